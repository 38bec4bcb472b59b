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


def live_agent(pbx: Pbx, work_number: str) -> dict[str, Any] | None:
    """The agent as `hotline status --json` shows it (None while the controller has no snapshot)."""
    result = hotline(pbx.config_file, "status", "--json", check=False)
    if result.returncode != 0:
        return None
    return next((a for a in json.loads(result.stdout)["agents"] if a["agent"] == work_number), None)


def wait_registered(pbx: Pbx, work_number: str) -> None:
    wait_until(lambda: (live_agent(pbx, work_number) or {}).get("registered"), 20,
               f"agent {work_number}'s softphone registration seen by the controller")


def test_caller_reaches_a_signed_in_agent_and_the_call_is_recorded(pbx: Pbx) -> None:
    """0 in the menu queues the caller; the signed-in agent's softphone rings, answers, talks; the
    conversation is recorded (file not world-readable) and the agent goes to after-call work."""
    creds = add_agent(pbx, "2001")

    async def scenario() -> CallReport:
        async with SippAgent(sip_user=creds["sip_user"], password=creds["password"],
                             target_port=pbx.settings.pbx.sip_port, answer_after_s=1.0, hangup_after_s=5.0) as phone:
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
