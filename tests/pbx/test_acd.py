"""Callers reach agents on SIP softphones: distribution, ring-no-answer, recording, agent states."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import select

from engine.store.agent_journal_tables import agent_events
from engine.testcall import CallReport, place_call
from engine.testcall.agent import SippAgent
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until
from tests.pbx.test_call_journey import journaled_call
from tests.pbx.test_ivr import events


def add_agent(pbx: Pbx, work_number: str, skills: str = "general") -> dict[str, Any]:
    out = hotline(pbx.config_file, "agent", "add", work_number, "--name", f"Agent {work_number}",
                  "--skills", skills, "--json").stdout
    return dict(json.loads(out))


def agent_states(pbx: Pbx, work_number: str) -> list[tuple[str, str, str | None]]:
    engine = pbx.journal()
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(agent_events.c.from_state, agent_events.c.to_state, agent_events.c.reason)
                                .where(agent_events.c.agent == work_number).order_by(agent_events.c.id)).all()
    finally:
        engine.dispose()
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]


def live_status(pbx: Pbx) -> dict[str, Any] | None:
    """`hotline status --json` (None while the controller has no snapshot)."""
    result = hotline(pbx.config_file, "status", "--json", check=False)
    return dict(json.loads(result.stdout)) if result.returncode == 0 else None


def live_agent(pbx: Pbx, work_number: str) -> dict[str, Any] | None:
    """The agent as `hotline status --json` shows it (None while the controller has no snapshot)."""
    status = live_status(pbx)
    if status is None:
        return None
    return next((a for a in status["agents"] if a["agent"] == work_number), None)


def wait_registered(pbx: Pbx, work_number: str) -> None:
    wait_until(lambda: (live_agent(pbx, work_number) or {}).get("registered"), 20,
               f"agent {work_number}'s softphone registration seen by the controller")


def test_caller_reaches_a_signed_in_agent_and_the_call_is_recorded(pbx: Pbx) -> None:
    """0 in the menu queues the caller; the signed-in agent's softphone rings, answers, talks; the
    conversation is recorded (file not world-readable) and the agent goes to after-call work."""
    creds = add_agent(pbx, "2001")

    async def scenario() -> CallReport:
        async with SippAgent(sip_user=creds["sip_user"], password=creds["password"],
                             target_port=pbx.settings.pbx.sip_port, answer_after_s=1.0, hangup_after_s=5.0,
                             talk=True) as phone:
            assert phone.registered
            await asyncio.to_thread(wait_registered, pbx, "2001")
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2001")
            return await place_call(target_port=pbx.settings.pbx.sip_port, dialed=pbx.settings.hotline_number,
                                    caller_id="13500000001", keys=["0"], speak=True, max_call_s=60)

    with pbx.controller():
        report = asyncio.run(scenario())
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13500000001", "completed", timeout=30)
        evts = events(pbx, call.id)
        kinds = [k for k, _ in evts]
        for kind in ("queue.entered", "queue.offered", "queue.answered", "recording.started",
                     "call.agent_hung_up", "recording.saved"):
            assert kind in kinds, (kind, kinds)
        saved = next(d for k, d in evts if k == "recording.saved")
        assert saved["agent"] == "2001" and saved["seconds"] >= 3, saved
        recording = Path(saved["file"])
        assert recording.exists() and recording.stat().st_size > 16000 * 3
        assert stat.S_IMODE(os.stat(recording).st_mode) & 0o077 == 0
        wait_until(lambda: ("on_call", "after_call_work", "call-finished") in agent_states(pbx, "2001"), 10,
                   "after-call work")
    states = [(a, b) for a, b, _ in agent_states(pbx, "2001")]
    assert ("logged_out", "available") in states
    assert ("available", "ringing") in states and ("ringing", "on_call") in states


def test_ring_no_answer_moves_on_and_repeated_misses_pause_the_agent(pbx: Pbx) -> None:
    """An agent who lets the phone ring is skipped (the caller keeps their place and the next agent gets
    the call); after two misses in a row that agent is paused with reason no-answer."""
    silent = add_agent(pbx, "2002", skills="complaints")
    helpful = add_agent(pbx, "2003", skills="complaints")
    sip_port = pbx.settings.pbx.sip_port

    async def scenario() -> list[CallReport]:
        async with SippAgent(sip_user=silent["sip_user"], password=silent["password"], target_port=sip_port,
                             answer=False) as _ignoring, \
                SippAgent(sip_user=helpful["sip_user"], password=helpful["password"], target_port=sip_port,
                          answer_after_s=0.5, hangup_after_s=2.0):
            for number in ("2002", "2003"):  # 2002 signs in first: it has been idle longest
                await asyncio.to_thread(wait_registered, pbx, number)
                await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", number)
                await asyncio.sleep(0.2)
            reports = []
            for caller in ("13500000002", "13500000003"):
                reports.append(await place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                                caller_id=caller, keys=["3"], max_call_s=60))
            return reports

    with pbx.controller():
        reports = asyncio.run(scenario())
        assert all(r.answered and r.ended_by == "hotline" for r in reports), reports
        first = events(pbx, journaled_call(pbx, "13500000002", "completed", timeout=30).id)
        assert ("queue.no_answer", {"agent": "2002"}) in first
        assert ("queue.answered", {"agent": "2003"}) in first
        second = events(pbx, journaled_call(pbx, "13500000003", "completed", timeout=30).id)
        assert ("queue.no_answer", {"agent": "2002"}) in second
        assert ("queue.answered", {"agent": "2003"}) in second  # after its 3 s of after-call work
        status = live_agent(pbx, "2002")
        assert status is not None and status["state"] == "paused" and status["reason"] == "no-answer", status


def test_pause_resume_and_registration_loss(pbx: Pbx) -> None:
    """Supervisor pause/resume reach the controller; a softphone that stops answering SIP is no longer
    offered calls, and with nobody left the caller is told no agent is available."""
    creds = add_agent(pbx, "2004", skills="vip")
    sip_port = pbx.settings.pbx.sip_port

    async def scenario() -> CallReport:
        async with SippAgent(sip_user=creds["sip_user"], password=creds["password"], target_port=sip_port) as phone:
            await asyncio.to_thread(wait_registered, pbx, "2004")
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2004")
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "pause", "2004", "--reason", "meeting")
            paused = await asyncio.to_thread(live_agent, pbx, "2004")
            assert paused is not None and paused["state"] == "paused" and paused["reason"] == "meeting", paused
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "resume", "2004")
            refused = await asyncio.to_thread(hotline, pbx.config_file, "agent", "resume", "2004", check=False)
            assert refused.returncode == 1 and refused.stderr.startswith("error: agent 2004:"), refused.stderr
            await phone.stop()  # the softphone dies without unregistering
        await asyncio.to_thread(wait_until, lambda: (live_agent(pbx, "2004") or {}).get("registered") is False,
                                60, "the controller to notice the lost registration")
        return await place_call(target_port=sip_port, dialed=pbx.settings.hotline_number, caller_id="13900000005",
                                max_call_s=60)

    with pbx.controller():
        report = asyncio.run(scenario())
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13900000005", "completed", timeout=30)
        evts = events(pbx, call.id)
        assert ("queue.closed", {"queue": "vip", "why": "no agent signed in"}) in evts
    reasons = [r for _, _, r in agent_states(pbx, "2004")]
    assert "meeting" in reasons and "resume" in reasons and "registration-lost" in reasons


def test_agent_states_survive_a_controller_restart(pbx: Pbx) -> None:
    """A restarted controller takes the agents' states from the journal instead of logging everyone out."""
    add_agent(pbx, "2005", skills="general")
    add_agent(pbx, "2006", skills="general")
    with pbx.controller():
        hotline(pbx.config_file, "agent", "login", "2005")
        hotline(pbx.config_file, "agent", "login", "2006")
        hotline(pbx.config_file, "agent", "pause", "2006", "--reason", "training")
    with pbx.controller():
        wait_until(lambda: live_agent(pbx, "2006"), 10, "the live status")
        assert (live_agent(pbx, "2005") or {}).get("state") == "available"
        after = live_agent(pbx, "2006") or {}
        assert after.get("state") == "paused" and after.get("reason") == "training", after


def test_waiting_caller_hears_position_and_is_served_first_come(pbx: Pbx) -> None:
    """With the only agent busy, the next caller waits with music, hears their position, and is put
    through when the agent is free again (after-call work included)."""
    creds = add_agent(pbx, "2007", skills="complaints")
    sip_port = pbx.settings.pbx.sip_port

    async def scenario() -> list[CallReport]:
        async with SippAgent(sip_user=creds["sip_user"], password=creds["password"], target_port=sip_port,
                             answer_after_s=0.5, hangup_after_s=8.0):
            await asyncio.to_thread(wait_registered, pbx, "2007")
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2007")
            first = asyncio.create_task(place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                                   caller_id="13500000011", keys=["3"], max_call_s=60))
            await asyncio.sleep(3)
            second = await place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                      caller_id="13500000012", keys=["3"], max_call_s=90)
            return [await first, second]

    with pbx.controller():
        reports = asyncio.run(scenario())
        assert all(r.answered and r.ended_by == "hotline" for r in reports), reports
        evts = events(pbx, journaled_call(pbx, "13500000012", "completed", timeout=30).id)
        announced = [d for k, d in evts if k == "queue.announced"]
        assert announced and announced[0]["position"] == 1, evts
        assert ("queue.answered", {"agent": "2007"}) in evts


def test_blind_transfer_to_another_queue_keeps_one_call(pbx: Pbx) -> None:
    """`hotline call transfer` moves a caller from the complaints agent to the VIP queue's agent; the
    first agent is freed (after-call work) and the journal keeps one call with the whole journey."""
    first = add_agent(pbx, "2008", skills="complaints")
    second = add_agent(pbx, "2009", skills="vip")
    sip_port = pbx.settings.pbx.sip_port

    async def scenario() -> CallReport:
        async with SippAgent(sip_user=first["sip_user"], password=first["password"], target_port=sip_port,
                             answer_after_s=0.5, hangup_after_s=40.0), \
                SippAgent(sip_user=second["sip_user"], password=second["password"], target_port=sip_port,
                          answer_after_s=0.5, hangup_after_s=3.0):
            for number in ("2008", "2009"):
                await asyncio.to_thread(wait_registered, pbx, number)
                await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", number)
            caller = asyncio.create_task(place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                                    caller_id="13500000021", keys=["3"], max_call_s=90))
            await asyncio.to_thread(wait_until, lambda: (live_agent(pbx, "2008") or {}).get("state") == "on_call",
                                    30, "agent 2008 talking")
            call_id = (await asyncio.to_thread(journaled_call, pbx, "13500000021")).id
            moved = await asyncio.to_thread(hotline, pbx.config_file, "call", "transfer", str(call_id),
                                            "--queue", "vip")
            assert "transferred to queue vip" in moved.stdout
            return await caller

    with pbx.controller():
        report = asyncio.run(scenario())
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13500000021", "completed", timeout=30)
        evts = events(pbx, call.id)
        assert ("call.transferred", {"from_agent": "2008", "to_queue": "vip", "to_agent": None,
                                     "by": "supervisor"}) in evts
        answered = [d["agent"] for k, d in evts if k == "queue.answered"]
        assert answered == ["2008", "2009"]
        assert len([k for k, _ in evts if k == "recording.saved"]) == 2
    assert ("on_call", "after_call_work") in [(a, b) for a, b, _ in agent_states(pbx, "2008")]
