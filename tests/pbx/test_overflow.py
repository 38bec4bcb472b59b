"""The surge plan on the real PBX: callers pile up, reserve agents on SIP softphones are signed in stage by
stage and take calls, and once the line has drained they are signed out in reverse order, after their calls.
The ladder has short windows (seconds instead of the shipped plan's minutes); everything else is what ships.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from engine.testcall import CallReport, place_call
from engine.testcall.agent import SippAgent
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until
from tests.pbx.test_acd import agent_states, wait_registered
from tests.pbx.test_call_journey import journaled_call
from tests.pbx.test_ivr import events

SHORT_LADDER = """  overflow:
    release_waiting: 0
    release_dwell_s: 2
    min_stage_s: 3
    service_level_window_min: 15
    stages:
      - {name: expert, when: {waiting_above: 0}, hold_s: 2, sign_in: {tier: expert, up_to: 1}}
      - {name: outbound, when: {waiting_above: 0}, hold_s: 2, sign_in: {tier: outbound, up_to: 1}}
"""


@pytest.fixture
def short_ladder(pbx: Pbx) -> Iterator[None]:
    """The session's queue file with a seconds-long ladder in place of the shipped one, for this test only."""
    assert pbx.settings.queues_file is not None
    path = pbx.settings.queues_file
    shipped = path.read_text(encoding="utf-8")
    ladder = re.search(r"^  overflow:\n(?:    .*\n|      .*\n)+", shipped, re.MULTILINE)
    assert ladder is not None, "the shipped queue file has a default ladder"
    path.write_text(shipped.replace(ladder.group(0), SHORT_LADDER), encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(shipped, encoding="utf-8")


def add(pbx: Pbx, number: str, tier: str) -> dict[str, Any]:
    out = hotline(pbx.config_file, "agent", "add", number, "--name", f"Agent {number}", "--skills", "general",
                  "--tier", tier, "--json").stdout
    return dict(json.loads(out))


def test_reserve_tiers_come_in_stage_by_stage_and_leave_in_reverse_order(pbx: Pbx, short_ladder: None) -> None:
    regular, expert, outbound = add(pbx, "2701", "inbound"), add(pbx, "2702", "expert"), add(pbx, "2703", "outbound")
    sip_port = pbx.settings.pbx.sip_port
    callers = ["13720000021", "13720000022", "13720000023", "13720000024"]

    def phone(creds: dict[str, Any], talk_s: float) -> SippAgent:
        return SippAgent(sip_user=creds["sip_user"], password=creds["password"], target_port=sip_port,
                         answer_after_s=0.5, hangup_after_s=talk_s)

    async def scenario() -> list[CallReport]:
        async with phone(regular, 20.0), phone(expert, 4.0), phone(outbound, 4.0):
            for number in ("2701", "2702", "2703"):
                await asyncio.to_thread(wait_registered, pbx, number)
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2701")
            calls = []
            for caller in callers:
                calls.append(asyncio.create_task(place_call(
                    target_port=sip_port, dialed=pbx.settings.hotline_number, caller_id=caller, keys=["0"],
                    max_call_s=90)))
                await asyncio.sleep(1.0)
            reports = list(await asyncio.gather(*calls))
            # After the surge: both reserve agents leave, the outbound one (signed in last) first.
            await asyncio.to_thread(wait_until, lambda: all(
                any(to == "logged_out" for _, to, _r in agent_states(pbx, n)[1:]) for n in ("2702", "2703")),
                40, "both reserve agents signed out by the plan")
            return reports

    with pbx.controller():
        reports = asyncio.run(scenario())
        history = json.loads(hotline(pbx.config_file, "overflow", "history", "--json").stdout)
    assert all(r.answered and r.ended_by == "hotline" for r in reports), reports
    served_by = set()
    for caller in callers:
        evts = events(pbx, journaled_call(pbx, caller, "completed", timeout=30).id)
        served_by |= {d["agent"] for k, d in evts if k == "queue.answered"}
    assert {"2702", "2703"} <= served_by, served_by  # the reserves took calls
    kinds = [(r["data"]["kind"], r["data"].get("agent") or r["data"].get("to_stage")) for r in history
             if r["queue"] == "general"]
    ins = [agent for kind, agent in kinds if kind == "sign_in"]
    outs = [agent for kind, agent in kinds if kind == "sign_out"]
    assert ins == ["2702", "2703"], kinds
    assert outs == ["2703", "2702"], kinds
    stages = [stage for kind, stage in kinds if kind == "stage_changed"]
    assert stages[:2] == ["expert", "outbound"] and stages[-1] == "normal", kinds
    for number in ("2702", "2703"):
        states = agent_states(pbx, number)
        # Never signed out mid-call: the sign-out comes from after-call work or available, not from a call.
        assert all(before not in ("on_call", "ringing", "on_hold") for before, to, _ in states
                   if to == "logged_out"), states


@pytest.fixture
def per_call_overflow(pbx: Pbx) -> Iterator[None]:
    """general: past 4 s of waiting, callers move to complaints; vip with nobody signed in: the partner site."""
    assert pbx.settings.queues_file is not None
    path = pbx.settings.queues_file
    shipped = path.read_text(encoding="utf-8")
    general = "  general:\n    skills: [general]\n"
    changed = shipped.replace(general, general + "    max_wait_s: 4\n    on_max_wait: queue:complaints\n") \
        .replace("    skills: [vip]\n", "    skills: [vip]\n    on_no_agent: site:partner\n")
    assert changed.count("on_max_wait: queue:complaints") == 1 and "site:partner" in changed
    path.write_text(changed, encoding="utf-8")
    try:
        yield
    finally:
        path.write_text(shipped, encoding="utf-8")


def test_callers_overflow_to_another_queue_keeping_their_place_and_to_a_partner_site(
        pbx: Pbx, per_call_overflow: None) -> None:
    """A caller past general's maximum wait is moved to complaints (same original arrival time) and
    answered there; a VIP caller with no VIP agent signed in is put through to the partner site (a SIPp
    phone behind the site's SIP endpoint), bridged and recorded."""
    busy, other = add(pbx, "2710", "inbound"), add(pbx, "2711", "inbound")
    hotline(pbx.config_file, "agent", "set", "2711", "--skills", "complaints")
    sip_port = pbx.settings.pbx.sip_port
    site = SippAgent(sip_user="partner", password="unused", register=False,
                     port=pbx.settings.overflow_sites["partner"].port, target_port=sip_port,
                     answer_after_s=0.5, hangup_after_s=4.0, talk=True)

    async def scenario() -> tuple[list[CallReport], int]:
        async with SippAgent(sip_user=busy["sip_user"], password=busy["password"], target_port=sip_port,
                             answer_after_s=0.5, hangup_after_s=25.0), \
                SippAgent(sip_user=other["sip_user"], password=other["password"], target_port=sip_port,
                          answer_after_s=0.5, hangup_after_s=3.0), site:
            for number in ("2710", "2711"):
                await asyncio.to_thread(wait_registered, pbx, number)
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2710", "2711")

            def dial(caller: str, keys: list[str]) -> asyncio.Task[CallReport]:
                return asyncio.create_task(place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                                      caller_id=caller, keys=keys, max_call_s=60))
            first = dial("13720000031", ["0"])
            await asyncio.to_thread(wait_until, lambda: _answered(pbx, "13720000031"), 30, "2710 busy")
            moved, vip = dial("13720000032", ["0"]), dial("13911110077", [])
            reports = list(await asyncio.gather(first, moved, vip))
            return reports, site.calls_answered

    with pbx.controller():
        (first, moved, vip), site_answered = asyncio.run(scenario())
    assert all(r.answered and r.ended_by == "hotline" for r in (first, moved, vip)), (first, moved, vip)
    evts = events(pbx, journaled_call(pbx, "13720000032", "completed", timeout=30).id)
    assert any(k == "overflow.moved" and d["to_queue"] == "complaints" and d["why"] == "max wait"
               for k, d in evts), evts
    assert ("queue.answered", {"agent": "2711"}) in evts
    places = {d["queued_at"] for k, d in evts if k == "call.position" and d.get("queued_at")}
    assert len(places) == 1, places  # moved with their original arrival time
    evts = events(pbx, journaled_call(pbx, "13911110077", "completed", timeout=30).id)
    assert any(k == "overflow.moved" and d.get("to_site") == "partner" for k, d in evts), evts
    assert ("overflow.answered", {"site": "partner"}) in evts
    saved = [d for k, d in evts if k == "recording.saved"]
    assert saved and saved[0]["agent"] == "site:partner" and saved[0]["seconds"] >= 2, saved
    assert site_answered == 1


def _answered(pbx: Pbx, caller: str) -> bool:
    try:
        call = journaled_call(pbx, caller, timeout=0.5)
    except AssertionError:
        return False
    return any(k == "queue.answered" for k, _ in events(pbx, call.id))
