"""`hotline overflow simulate|check`: a load curve through the real ladder and a deterministic queue model."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from acd.model import QueueName
from acd.overflow import Condition, Ladder, SignIn, SignInTier, SignOut, Stage, StageChanged
from acd.overflow_simulate import parse_curve, rate_at, simulate
from acd.queues import load_queues
from engine.cli.main import cli

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"HOTLINE_CONFIG": ""}, catch_exceptions=False)
    return result.exit_code, result.output


def test_curves() -> None:
    assert parse_curve("120/h..600/h") == (120, 600)
    assert parse_curve("2/min..300..120/h") == (120, 300, 120)
    assert rate_at((120, 600), 0.5) == 360 and rate_at((120, 600, 120), 0.75) == 360 and rate_at((50,), 0.3) == 50
    with pytest.raises(ValueError, match="'fast' is not a rate"):
        parse_curve("120/h..fast")


def test_the_shipped_ladder_climbs_and_comes_down_in_reverse_order() -> None:
    ladder = load_queues()["general"].overflow
    assert ladder is not None
    result = simulate(ladder, QueueName("general"), (120, 600, 120), hours=4, aht_s=300, agents=20,
                      reserves={"expert": 3, "outbound": 3, "qc": 3, "backoffice": 3}, start=START)
    changes = [(e.from_stage, e.to_stage) for e in result.events if isinstance(e, StageChanged)]
    assert changes == [("normal", "expert"), ("expert", "outbound"), ("outbound", "qc"), ("qc", "backoffice"),
                       ("backoffice", "alert"), ("alert", "backoffice"), ("backoffice", "qc"), ("qc", "outbound"),
                       ("outbound", "expert"), ("expert", "normal")]
    ins = [e.agent for e in result.events if isinstance(e, SignIn)]
    outs = [e.agent for e in result.events if isinstance(e, SignOut)]
    assert ins == ["2001", "2002", "2003", "3001", "3002", "3003", "4001", "4002", "4003", "5001", "5002", "5003"]
    # Stage by stage in reverse; inside a stage an agent still wrapping up leaves after its wrap-up.
    assert [a[0] for a in outs] == list("555444333222")
    assert result.offered == 1440 and result.answered + result.gave_up <= result.offered
    # The same inputs give the same run.
    again = simulate(ladder, QueueName("general"), (120, 600, 120), hours=4, aht_s=300, agents=20,
                     reserves={"expert": 3, "outbound": 3, "qc": 3, "backoffice": 3}, start=START)
    assert again.to_json() == result.to_json()


def test_a_light_load_never_moves_the_ladder() -> None:
    ladder = Ladder(stages=(Stage("expert", Condition(waiting_above=5), 60, SignInTier("expert")),))
    result = simulate(ladder, QueueName("q"), (100,), hours=1, aht_s=300, agents=20, reserves={"expert": 2},
                      start=START)
    assert result.fired == [] and result.max_waiting == 0 and result.answered == result.offered == 100


def test_cli_prints_the_story_and_the_line() -> None:
    code, out = run("overflow", "simulate", "--queue", "general", "--arrivals", "120/h..600/h..120/h", "--aht", "300",
                    "--agents", "20")
    assert code == 0, out
    assert "normal -> expert" in out and "signs in 2001, 2002, 2003" in out and "ALERT" in out
    assert "more seat(s) needed" in out and "expert -> normal" in out and "offered 1440" in out
    code, out = run("overflow", "simulate", "--arrivals", "120/h..600/h", "--tiers", "expert=1,outbound=0",
                    "--hours", "2", "--json")
    data = json.loads(out)
    assert code == 0 and data["tiers"] == {"expert": 1, "outbound": 0}
    assert [f["what"] for f in data["fired"]][:3] == ["normal -> expert", "expert -> outbound", "outbound short"]
    assert data["samples"][0] == {"at": "+0:00:00", "arrivals_per_h": 120, "waiting": 0, "longest_wait_s": 0,
                                  "service_level": None, "agents_serving": 20, "stage": "normal"}
    assert run("overflow", "simulate", "--arrivals", "lots")[0] == 2
    assert run("overflow", "simulate", "--arrivals", "100", "--tiers", "expert")[0] == 2
    code, out = run("overflow", "simulate", "--arrivals", "100", "--queue", "nope")
    assert code == 2 and "no queue 'nope'" in out


def test_cli_check(tmp_path: Path) -> None:
    code, out = run("overflow", "check")
    assert code == 0 and "ok general: expert [5 < waiting <= 10 for 300 s: sign in all expert] > outbound" in out
    bad = tmp_path / "q.yaml"
    bad.write_text("queues:\n  general:\n    skills: [general]\n    overflow:\n      stages:\n"
                   "        - {name: a, when: {waiting_above: 5}, sign_in: {tier: nobody}}\n", encoding="utf-8")
    code, out = run("overflow", "check", "--file", str(bad))
    assert code == 2 and out.splitlines() == [
        f"{bad}:6: queue 'general' overflow stages[1] 'a' needs 'hold_s' (how long its condition must hold before "
        "it fires)",
        f"{bad}:6: queue 'general' overflow stages[1] 'a' sign_in: unknown tier 'nobody' (known: inbound, expert, "
        "outbound, qc, backoffice)"]
    code, out = run("overflow", "simulate", "--arrivals", "100", "--file", str(bad))
    assert code == 2 and out.startswith(f"error: {bad}:6:")
