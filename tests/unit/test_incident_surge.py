"""`hotline incident start --surge STAGE` / `incident stop`: one overflow request per queue whose ladder has
that stage, answered by a stand-in for the controller's surge plan; without a controller the incident still
starts, the requests are withdrawn and the command says the surge was not applied."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, update

from acd.queues import load_queues, parse_queues
from engine.cli.main import cli
from engine.incident_surge import UnknownSurgeStage, surge_queues
from engine.store import overflow_store
from engine.store.overflow_tables import overflow_requests
from tests.unit.test_incidents import Env

TEXT = "因光缆故障,部分地区宽带业务中断,请您错峰来电。"


@pytest.fixture
def env(tmp_path: Path) -> Env:
    env = Env(tmp_path)
    assert env.run("db", "upgrade")[0] == 0
    return env


@pytest.fixture(autouse=True)
def quick_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(overflow_store, "ANSWER_WITHIN_S", 0.6)


class FakeSurgePlan:
    """Answers pending requests the way ``engine.queueing.surge.SurgePlan`` does (``refuse``: queue -> answer)."""

    def __init__(self, engine: Engine, refuse: dict[str, str] | None = None) -> None:
        self.engine = engine
        self.refuse = refuse or {}
        self.seen: list[tuple[str, str, str | None, str | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FakeSurgePlan:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            with self.engine.begin() as conn:
                rows = conn.execute(select(overflow_requests.c.id, overflow_requests.c.queue,
                                           overflow_requests.c.action, overflow_requests.c.stage,
                                           overflow_requests.c.reason)
                                    .where(overflow_requests.c.done_at.is_(None))).all()
                for row in rows:
                    self.seen.append((row.queue, row.action, row.stage, row.reason))
                    conn.execute(update(overflow_requests).where(overflow_requests.c.id == row.id)
                                 .values(done_at=datetime.now(UTC), result=self.refuse.get(row.queue, "ok")))


def invoke(env: Env, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env.env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def requests(engine: Engine) -> list[tuple[str, str, str | None, str | None]]:
    with engine.connect() as conn:
        return [(r.queue, r.action, r.stage, r.result) for r in conn.execute(
            select(overflow_requests).order_by(overflow_requests.c.id))]


def test_surge_queues_are_those_with_the_stage() -> None:
    queues = load_queues()
    assert surge_queues(queues, "qc") == ["general", "vip", "complaints", "night"]
    small = parse_queues("queues:\n  a: {skills: []}\n  b:\n    skills: []\n    overflow:\n      stages:\n"
                         "        - {name: expert, when: {waiting_above: 10}, hold_s: 1, sign_in: {tier: expert}}\n"
                         "tiers: [inbound, expert]\n", "q.yaml")
    assert surge_queues(small, "expert") == ["b"]
    with pytest.raises(UnknownSurgeStage, match="stages: expert"):
        surge_queues(small, "normal")


def test_incident_surge_raises_every_ladder_with_the_stage_and_stop_releases_them(env: Env) -> None:
    engine = env.engine()
    with FakeSurgePlan(engine, refuse={"night": "queue 'night' has no overflow ladder"}) as plan:
        code, out, err = invoke(env, "incident", "start", "--text", TEXT, "--nodes", "main_menu", "--surge", "qc")
        assert (code, out.strip()) == (0, "1")  # stdout keeps the bare id for scripts
        assert "surge qc: raised general, vip, complaints" in err
        assert "warning: surge qc: night not raised: queue 'night' has no overflow ladder" in err
        assert [s[:3] for s in plan.seen] == [("general", "set", "qc"), ("vip", "set", "qc"),
                                              ("complaints", "set", "qc"), ("night", "set", "qc")]
        assert {s[3] for s in plan.seen} == {"incident 1 surge"}

        code, out, err = invoke(env, "incident", "stop", "1")
        assert code == 0 and "incident 1 stopped" in out
        assert "surge: released general, vip, complaints" in err
        # Only the ladders the incident raised are released.
        assert [s[:2] for s in plan.seen[4:]] == [("general", "release"), ("vip", "release"),
                                                  ("complaints", "release")]


def test_without_a_controller_the_incident_starts_and_the_surge_is_not_applied(env: Env) -> None:
    engine = env.engine()
    code, out, err = invoke(env, "incident", "start", "--text", TEXT, "--nodes", "main_menu", "--surge", "expert")
    assert (code, out.strip()) == (0, "1")
    assert ("warning: surge expert not applied to general, vip, complaints, night: no controller answered"
            in err), err
    # The one request sent was withdrawn: a controller started later will not raise the ladder.
    assert requests(engine) == [("general", "set", "expert", overflow_store.WITHDRAWN)]
    code, out, err = invoke(env, "incident", "stop", "1")
    assert code == 0 and err == ""  # nothing was raised, nothing to release
    assert len(requests(engine)) == 1


def test_an_unknown_surge_stage_is_refused_before_anything_starts(env: Env) -> None:
    code, _, err = invoke(env, "incident", "start", "--text", TEXT, "--nodes", "main_menu", "--surge", "panic")
    assert code == 1 and "no queue's overflow ladder has a stage 'panic'" in err
    assert invoke(env, "incident", "list", "--json")[1].strip() == "[]"
    assert requests(env.engine()) == []
