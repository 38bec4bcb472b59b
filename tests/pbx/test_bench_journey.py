"""The benchmark's journey harness on the test PBX: 5 SIPp agents, 20 SIPp callers through the shipped flow.

Correctness of the harness, not speed: every caller (agent path and self-service look-up with the sample
account's password) reaches an agent and is hung up by the PBX after the agent's talk time, the journal
holds one call per caller, each with its queue.answered and its saved recording, and the step's figures are
filled in.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.journey_agents import AgentFloor, provision
from bench.journey_step import StepSetup, run_step
from engine.app import LIVE_STATUS_FILE
from tests.pbx.conftest import Pbx

pytestmark = pytest.mark.pbx


def test_twenty_callers_reach_five_agents_and_the_journal_matches(pbx: Pbx, tmp_path: Path) -> None:
    accounts = provision(pbx.config_file, tmp_path / "agents", 5, first=4801)

    async def scenario() -> object:
        async with AgentFloor(accounts, pbx.settings.pbx.sip_port, talk_s=2.0, folder=tmp_path / "phones") as floor:
            await floor.sign_in(pbx.config_file)
            setup = StepSetup(control=pbx.control, config_file=pbx.config_file, journal=pbx.journal(),
                              hotline_number=pbx.settings.hotline_number, controller_pid=controller.proc.pid
                              if controller.proc else None, asterisk_pid=None, queue_log=tmp_path / "none",
                              floor=floor, workdir=tmp_path / "sipp", seconds=10, share=0.25, talk_s=2.0,
                              call_seconds=12.0, max_call_s=60,
                              settle_s=0,  # the suite's other workers keep the box busy: no quiet to wait for
                              status_file=pbx.settings.data_dir / LIVE_STATUS_FILE)
            return await run_step(setup, "journey", 2)

    with pbx.controller() as controller:
        step = asyncio.run(scenario())
    assert step.planned == 20, step
    assert step.completed == 20 and step.reached_agent == 20, (step.callers, step.verdict.explain())
    assert step.callers and {c["kind"] for c in step.callers} == {"agent", "self-service"}
    assert step.queue_wait_s.p50 is not None and step.ring_answer_ms.p50 is not None
    assert step.key_prompt_ms.p50 is not None and step.answer_ms.p95 is not None
    assert step.controller_cpu_s is not None and step.journal_rows_per_s
    assert step.recorded == step.connected == 20, (step.recorded, step.connected)  # every conversation recorded
    # The controller's own count of its ARI traffic: a call needs a few requests and events, not hundreds.
    assert 5 < (step.per_call(step.ari_requests) or 0) < 60, step.ari_requests
    assert 5 < (step.per_call(step.ari_events) or 0) < 60, step.ari_events
    # Each of the 5 self-service callers typed the password once (a garbled key could add a retry).
    assert (step.password_checks or 0) >= 5, step.password_checks
