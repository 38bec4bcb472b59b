"""Asterisk restarts under a running controller with an agent signed in and a caller in the menu.

Calls on Asterisk itself are lost by nature; their journal entries must close with a cause. The agent
desk must survive the outage: the agent's registration comes back (Asterisk keeps contacts), and the
next caller who asks for a person reaches that agent without anyone restarting the controller.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest

from engine.testcall import CallReport, place_call
from engine.testcall.agent import SippAgent
from tests.pbx.conftest import Pbx
from tests.pbx.harness import app_registered, hotline, wait_until
from tests.pbx.test_acd import add_agent, live_agent, live_status, wait_registered
from tests.pbx.test_call_journey import dial, journaled_call
from tests.pbx.test_ivr import events

pytestmark = [pytest.mark.pbx, pytest.mark.chaos, pytest.mark.timeout(240)]


def registered_since(pbx: Pbx, work_number: str, since: datetime) -> bool:
    """The live status, written at ``since`` or later, shows the agent's softphone registered."""
    status = live_status(pbx)
    if status is None or datetime.fromisoformat(status["at"]) < since:
        return False
    return any(a["agent"] == work_number and a["registered"] for a in status["agents"])


def test_agents_serve_again_after_asterisk_restarts_and_lost_calls_are_closed(pbx: Pbx) -> None:
    creds = add_agent(pbx, "2602")
    sip_port = pbx.settings.pbx.sip_port
    lost: list[CallReport] = []

    async def scenario() -> CallReport:
        async with SippAgent(sip_user=creds["sip_user"], password=creds["password"], target_port=sip_port,
                             answer_after_s=0.5, hangup_after_s=3.0):
            await asyncio.to_thread(wait_registered, pbx, "2602")
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2602")
            caller = threading.Thread(target=lambda: lost.append(
                dial(pbx, caller_id="13710000011", max_call_s=40)))
            caller.start()
            await asyncio.to_thread(journaled_call, pbx, "13710000011")
            await asyncio.to_thread(pbx.control.restart_now)
            await asyncio.to_thread(pbx.control.wait_fully_booted, 60)
            await asyncio.to_thread(wait_until, lambda: app_registered(pbx.settings), 30,
                                    "the controller to re-register after the restart")
            back = datetime.now(UTC)
            await asyncio.to_thread(caller.join, 60)
            # The desk lived through the outage: live status and the agent's registration come back. Only a
            # status written two desk rounds after the reconnection counts: one written just after the restart
            # could still show the registration from before it, and a caller sent then found no agent (the
            # registration came back 10 s later; seen once in a full run).
            await asyncio.to_thread(wait_until, lambda: registered_since(pbx, "2602", back + timedelta(seconds=2)),
                                    90, "the agent's registration seen again after the restart")
            return await place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                    caller_id="13710000012", keys=["0"], max_call_s=60)

    with pbx.controller() as controller:
        after = asyncio.run(scenario())
        assert after.answered and after.ended_by == "hotline", after
        served = events(pbx, journaled_call(pbx, "13710000012", "completed", timeout=30).id)
        assert ("queue.answered", {"agent": "2602"}) in served
        status = live_agent(pbx, "2602")
        assert status is not None and status["state"] in ("after_call_work", "available"), status
    first = journaled_call(pbx, "13710000011", timeout=30)
    ended = [d for k, d in events(pbx, first.id) if k == "call.ended"]
    assert len(ended) == 1 and ended[0]["cause"], ended
    assert "task " not in controller.output() or "failed" not in controller.output()
