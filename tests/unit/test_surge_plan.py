"""The surge plan's wiring to the ACD, without a PBX: supervisors' commands and what the ladder's events do."""

from __future__ import annotations

from pathlib import Path
from typing import cast
from zoneinfo import ZoneInfo

import sqlalchemy

from acd.model import Agent, AgentId, AgentState, QueueName
from acd.queues import parse_queues
from acd.state import RegistrationBack
from engine.pbx.ari import AriClient
from engine.queueing.roster import AgentLine
from engine.queueing.service import QueueService
from engine.queueing.surge import LiveFigures, SurgePlan
from tests.unit.fakes import FakeClock, ListJournal

QUEUES = """
tiers: [inbound, expert]
queues:
  general:
    skills: [general]
    overflow:
      release_waiting: 0
      release_dwell_s: 2
      min_stage_s: 3
      stages:
        - {name: expert, when: {waiting_above: 0}, hold_s: 2, sign_in: {tier: expert, up_to: 1}}
"""


def make(tmp_path: Path) -> tuple[SurgePlan, QueueService]:
    clock = FakeClock()
    service = QueueService(cast(AriClient, None), ListJournal(), clock, parse_queues(QUEUES, "q.yaml"), tmp_path)
    service.set_agents({AgentId("5001"): AgentLine(Agent(AgentId("5001"), "E", frozenset({"general"}), "expert"),
                                                   "agent-5001")})
    service.agent_event(AgentId("5001"), RegistrationBack())
    plan = SurgePlan(service, cast(sqlalchemy.Engine, None), clock, ZoneInfo("Asia/Shanghai"))
    return plan, service


def test_set_by_hand_signs_the_stage_in_and_release_gives_the_ladder_back(tmp_path: Path) -> None:
    plan, service = make(tmp_path)
    assert plan.command("general", "set", "nope", None).startswith("no stage 'nope' in the general ladder")
    assert plan.command("elsewhere", "hold", None, None) == "queue 'elsewhere' has no overflow ladder"
    assert plan.command("general", "set", "expert", None) == "ok"
    assert service.statuses[AgentId("5001")].state == AgentState.AVAILABLE  # signed in by the plan
    snapshot = plan.snapshot()["general"]
    assert (snapshot["stage"], snapshot["mode"]) == ("expert", "manual")
    assert plan.plan_agents() == {"5001": ("general", "expert")}
    kinds = [row["kind"] for row in plan._unsaved]
    assert kinds[:1] == ["mode_changed"] or "stage_changed" in kinds
    assert plan.command("general", "release", None, None) == "ok"
    assert plan.snapshot()["general"]["mode"] == "auto"


def test_live_figures_keep_only_the_window(tmp_path: Path) -> None:
    figures = LiveFigures()
    clock = FakeClock()
    start = clock.now()
    for minute in range(30):
        figures.arrived("general", start.replace(minute=minute))
        figures.answered("general", start.replace(minute=minute), within_target=minute % 2 == 0)
    now = start.replace(minute=29, second=59)
    got = figures.figures("general", now, window_min=10, aht_s=300)
    assert got.arrivals_per_h == 60  # 10 arrivals in the last 10 minutes
    assert got.service_level == 0.5 and got.aht_s == 300
    assert figures.figures(QueueName("vip"), now, 10, 300).service_level is None
