"""Booked callbacks on real calls: the caller presses 2 when nobody can take the call; once an agent is
free the hotline rings the agent, calls the customer through the outbound trunk (a SIPp phone answering
at the trunk's address) and bridges them; a customer who never answers is retried, then given up."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from engine.store.queries import recent_calls
from engine.testcall import CallReport
from engine.testcall.agent import AgentEvent, SippAgent
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until
from tests.pbx.test_acd import add_agent
from tests.pbx.test_call_journey import dial
from tests.pbx.test_ivr import events
from tests.pbx.test_scripts import phone, sign_in


def bookings(pbx: Pbx) -> list[dict[str, Any]]:
    return list(json.loads(hotline(pbx.config_file, "callbacks", "list", "--all", "--json").stdout))


def queue_status(pbx: Pbx, queue: str) -> dict[str, Any]:
    result = hotline(pbx.config_file, "status", "--json", check=False)
    if result.returncode != 0:
        return {}
    return next((q for q in json.loads(result.stdout)["queues"] if q["queue"] == queue), {})


def customer(pbx: Pbx, **kwargs: Any) -> SippAgent:
    """The customer's phone, reached through the trunk (it answers whatever number is dialled)."""
    return SippAgent(sip_user="customer", password="unused", register=False, port=pbx.settings.callback.trunk_port,
                     target_port=pbx.settings.pbx.sip_port, **kwargs)


def book_callback(pbx: Pbx, caller: str) -> CallReport:
    """0 for an agent; nobody serves the VIP queue... so the general queue's closed offer: 2 books."""
    return dial(pbx, caller_id=caller, keys=["0", "2"], key_gap_s=7.2, max_call_s=60)


def test_a_booked_callback_rings_the_agent_then_the_customer_and_bridges_them(pbx: Pbx) -> None:
    with pbx.controller():
        report = book_callback(pbx, "13600002301")
        assert report.answered and report.ended_by == "hotline", report
        booked = next(b for b in bookings(pbx) if b["caller"] == "13600002301")
        assert booked["status"] == "booked", booked
        # The booking holds the caller's place: the live view counts it apart from callers on the line.
        wait_until(lambda: queue_status(pbx, "general").get("callbacks") == 1, 10, "the callback in the live view")
        creds = add_agent(pbx, "2301")

        async def serve() -> tuple[int, int]:
            # The customer stays 9 s: the agent's "callback being connected" prompt (~5 s) plays out first, and the
            # conversation, with its recording, starts after it.
            async with customer(pbx, answer_after_s=1.0, hangup_after_s=9.0) as phone_, \
                    phone(pbx, creds) as agent:
                await sign_in(pbx, "2301")
                await phone_.wait_for(AgentEvent.LOCAL_BYE, timeout_s=40)
                await agent.wait_for(AgentEvent.REMOTE_BYE, timeout_s=10)
                return phone_.calls_answered, agent.calls_answered

        assert asyncio.run(serve()) == (1, 1)
        done = wait_until(lambda: next((b for b in bookings(pbx) if b["id"] == booked["id"]
                                        and b["status"] == "done"), None), 15, "the callback marked done")
        assert done["agent"] == "2301" and done["attempts"] == 1, done
        call = wait_until(lambda: next((c for c in recent_calls(pbx.journal(), 20) if c.dialed == "callback"
                                        and c.caller == "13600002301" and c.outcome), None), 15, "the callback call")
        assert call.outcome == "completed" and call.source == "callback", call
        evts = events(pbx, call.id)
    kinds = [k for k, _ in evts]
    for kind in ("callback.waiting", "queue.offered", "callback.dialing", "callback.answered", "queue.answered",
                 "recording.saved", "callback.done"):
        assert kind in kinds, (kind, kinds)


def test_an_unanswered_callback_is_retried_then_given_up_and_a_cancelled_one_never_rings(pbx: Pbx) -> None:
    """The customer's phone rings out twice (max_attempts 2, 3 s apart): the booking fails and the agent
    is free again at once each time; a booking cancelled while it waits is never dialled."""
    with pbx.controller():
        assert book_callback(pbx, "13600002302").answered
        assert book_callback(pbx, "13600002303").answered
        listed = {b["caller"]: b for b in bookings(pbx)}
        hotline(pbx.config_file, "callbacks", "cancel", str(listed["13600002303"]["id"]))
        creds = add_agent(pbx, "2302")

        async def serve() -> tuple[int, int]:
            async with customer(pbx, answer=False) as phone_, phone(pbx, creds) as agent:
                await sign_in(pbx, "2302")
                await phone_.wait_for(AgentEvent.CANCELLED, count=2, timeout_s=60)
                await asyncio.sleep(3)
                return phone_.calls_offered, agent.calls_answered

        assert asyncio.run(serve()) == (2, 2)
        failed = wait_until(lambda: next((b for b in bookings(pbx) if b["caller"] == "13600002302"
                                          and b["status"] == "failed"), None), 15, "the callback given up")
        assert failed["attempts"] == 2, failed
        cancelled = next(b for b in bookings(pbx) if b["caller"] == "13600002303")
        assert cancelled["status"] == "cancelled" and cancelled["attempts"] == 0, cancelled
