"""Dispositions and `hotline report` on a known mix of real calls.

Six SIPp callers, in this order: one an agent hands to the silent-call script (*81); then, while a second
agent talks to a caller for 40 s, one caller hangs up after ~25 s in the queue (abandoned) and one after
~8 s (a short abandon); one hears the balance on the speed line (10086 + 11, the sample password) and
presses nothing more; with nobody signed in, one leaves a message. Each call's disposition (`hotline calls --json`)
and the report's counts (`hotline report --json`, default thresholds: short abandon 20 s) must say so.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from engine.testcall import CallReport, place_call
from engine.testcall.agent import AgentAction, AgentEvent
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until
from tests.pbx.test_acd import add_agent
from tests.pbx.test_call_journey import journaled_call
from tests.pbx.test_scripts import call_agent_line, phone, sign_in

# Numbers of their own (the self-service caller must be the sample account): other tests' calls of the same
# session are in the same journal, so only calls started after this test began are looked at.
ANSWERED, ABANDONED, SHORT, SELF_SERVICE, MESSAGE, SILENT = (
    "13730000001", "13730000002", "13730000003", "13800138000", "13730000005", "13730000006")
COUNTED = ("calls", "offered", "answered", "abandoned", "short_abandons", "messages", "silent_calls")

pytestmark = pytest.mark.pbx


def dispositions(pbx: Pbx, since: datetime) -> dict[str, dict[str, Any]]:
    """Each caller's newest call started after ``since``, once it has a disposition."""
    rows = json.loads(hotline(pbx.config_file, "calls", "--json", "--limit", "50").stdout)
    newest: dict[str, dict[str, Any]] = {}
    for row in rows:  # newest first
        if datetime.fromisoformat(row["started_at"]) >= since:
            newest.setdefault(row["caller"], row)
    return {caller: row for caller, row in newest.items() if row["disposition"] is not None}


def report(pbx: Pbx, start: datetime, end: datetime) -> dict[str, Any]:
    return dict(json.loads(hotline(pbx.config_file, "report", "--from", f"{start:%Y-%m-%d %H:%M}", "--to",
                                   f"{end:%Y-%m-%d %H:%M}", "--json").stdout))


@pytest.mark.timeout(400)
def test_a_known_mix_of_calls_gets_its_dispositions_and_report_counts(pbx: Pbx) -> None:
    """Answered, abandoned in queue after > 20 s, short abandon, self-service, message, silent: each call's
    disposition, and the report's counts of the same calls."""
    talker, silencer = add_agent(pbx, "2801"), add_agent(pbx, "2802")

    async def silent_call() -> None:
        async with phone(pbx, silencer, actions=[AgentAction(2.0, "keys", "*81")], calls=1) as agent:
            await sign_in(pbx, "2802")
            report = await call_agent_line(pbx, SILENT)
            await agent.wait_for(AgentEvent.REMOTE_BYE)
            assert report.answered, report
        await asyncio.to_thread(hotline, pbx.config_file, "agent", "logout", "2802")

    async def queue_calls() -> list[CallReport]:
        async with phone(pbx, talker, hangup_after_s=40.0, calls=1) as agent:
            await sign_in(pbx, "2801")
            answered = asyncio.create_task(call_agent_line(pbx, ANSWERED))
            await agent.wait_for(AgentEvent.ANSWERED, timeout_s=30)
            # The agent is busy: these two wait in the queue (0 is pressed ~1.5 s after the IVR answers).
            waiting = [call_agent_line(pbx, ABANDONED, hangup_after_s=27.0),
                       call_agent_line(pbx, SHORT, hangup_after_s=9.0)]
            reports = await asyncio.gather(answered, *waiting)
        await asyncio.to_thread(hotline, pbx.config_file, "agent", "logout", "2801")
        return list(reports)

    async def self_service_call() -> CallReport:
        # The password (sample data), the balance is spoken; no key after it, so the flow says goodbye.
        return await place_call(target_port=pbx.settings.pbx.sip_port, dialed=pbx.settings.hotline_number + "11",
                                caller_id=SELF_SERVICE, keys=list("123456#"), key_gap_s=0.3, max_call_s=60)

    async def message_call() -> CallReport:
        return await place_call(target_port=pbx.settings.pbx.sip_port, dialed=pbx.settings.hotline_number,
                                caller_id=MESSAGE, keys=["0", "1"], key_gap_s=7.2, speak=True, max_call_s=90)

    period = (datetime.now(pbx.settings.tz) - timedelta(minutes=5), datetime.now(pbx.settings.tz) + timedelta(hours=1))
    # The period holds earlier tests' calls too: the report's counts are compared before and after these six.
    before = report(pbx, *period)
    since = datetime.now(pbx.settings.tz) - timedelta(seconds=1)
    with pbx.controller():
        asyncio.run(silent_call())
        journaled_call(pbx, SILENT, "silent", timeout=30)
        answered, abandoned, short = asyncio.run(queue_calls())
        assert answered.answered and abandoned.answered and short.answered, (answered, abandoned, short)
        assert asyncio.run(self_service_call()).answered
        assert asyncio.run(message_call()).answered
        mine = (ANSWERED, ABANDONED, SHORT, SELF_SERVICE, MESSAGE, SILENT)
        found = wait_until(lambda: (lambda d: d if all(c in d for c in mine) else None)(dispositions(pbx, since)),
                           60, "six calls with a disposition")

    names = {caller: found[caller]["disposition"] for caller in
             (ANSWERED, ABANDONED, SHORT, SELF_SERVICE, MESSAGE, SILENT)}
    assert names == {ANSWERED: "answered", ABANDONED: "abandoned_queue", SHORT: "short_abandon",
                     SELF_SERVICE: "self_service", MESSAGE: "message_left", SILENT: "silent"}, names
    assert found[ANSWERED]["disposition_detail"]["agent"] == "2801"
    assert found[ABANDONED]["disposition_detail"]["wait_s"] > 20, found[ABANDONED]
    assert found[SHORT]["disposition_detail"]["wait_s"] <= 20, found[SHORT]
    assert found[SELF_SERVICE]["disposition_detail"]["result"] == "balance"
    assert found[SILENT]["disposition_detail"]["agent"] == "2802"

    after = report(pbx, *period)
    grown = {k: v - before.get("dispositions", {}).get(k, 0) for k, v in after["dispositions"].items()}
    assert {k: v for k, v in grown.items() if v} == {"abandoned_queue": 1, "answered": 1, "message_left": 1,
                                                      "self_service": 1, "short_abandon": 1, "silent": 1}, grown
    totals = {k: after["totals"][k] - (before.get("totals") or {}).get(k, 0) for k in COUNTED}
    # Offered: every call but the self-service one reached a queue; answered: the agent's and the silent one.
    assert (totals["calls"], totals["offered"], totals["answered"]) == (6, 5, 2), totals
    assert (totals["abandoned"], totals["short_abandons"]) == (1, 1), totals
    assert (totals["messages"], totals["silent_calls"]) == (1, 1), totals
    agents = {a["agent"]: a for a in after["agents"]}
    assert agents["2801"]["conversations"] == 1 and agents["2802"]["silent_calls"] == 1, agents
