"""The report's database sums must equal the per-call reference (engine.reports.kpis.sums_from_facts).

tests/unit/test_report_sql.py (SQLite) and tests/postgres/test_report_postgres.py run these on the
hand-built journal of tests/unit/test_report_kpis.py, written through the real journal writer: every figure
of every total, interval, queue and agent row, for several thresholds, intervals, filters and periods whose
edges are not on a quarter hour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from engine.reports.kpis import Options, Report, build_report, interval_bounds, sums_from_facts
from engine.reports.query import read_period
from engine.store.migrate import upgrade
from tests.journal_checks import reading, write
from tests.unit.test_report_kpis import DAY_END, DAY_START, JOURNAL, TZ, facts_of


@dataclass(frozen=True)
class Case:
    name: str
    interval: str = "1h"
    start: datetime = DAY_START
    end: datetime = DAY_END
    options: Options = field(default_factory=Options)
    queue: str | None = None
    agent: str | None = None


CASES = (
    Case("day per hour"),
    Case("per half hour", interval="30m"),
    Case("one day", interval="day"),
    Case("a week around it", interval="day", start=DAY_START - timedelta(days=3), end=DAY_END + timedelta(days=3)),
    Case("month", interval="month", start=DAY_START - timedelta(days=30), end=DAY_END + timedelta(days=40)),
    Case("thresholds", options=Options(short_abandon_s=10, service_level_s=30, fcr_window=timedelta(hours=1),
                                       vip_queues=frozenset({"vip", "general"}))),
    Case("queue general", queue="general"),
    Case("agent 1001", agent="1001"),
    Case("agent 1002 per half hour", interval="30m", agent="1002"),
    Case("edges off the quarter hour", start=DAY_START + timedelta(hours=9, minutes=10, seconds=7),
         end=DAY_START + timedelta(hours=12, minutes=1, seconds=30)),
    Case("shorter than a quarter hour", start=DAY_START + timedelta(hours=9, minutes=10),
         end=DAY_START + timedelta(hours=9, minutes=14)),
)


def _reference(case: Case) -> Report:
    facts, spans, history = facts_of(JOURNAL, case.start, case.end)
    if case.queue is not None:
        facts = [f for f in facts if f.queue == case.queue]
    if case.agent is not None:
        facts = [f for f in facts if any(t.agent == case.agent for t in f.talks)]
        spans = [x for x in spans if x.agent == case.agent]
    # After-call work counts whole towards the queue of the call it followed, even past the period's end.
    whole_day = [x for x in facts_of(JOURNAL)[1] if case.agent in (None, x.agent)]
    acw = {x.call_uid: (x.end - x.start).total_seconds() for x in whole_day
           if x.state == "after_call_work" and x.call_uid}
    bounds = interval_bounds(case.start, case.end, case.interval, TZ)
    sums = sums_from_facts(facts, spans, history, bounds=bounds, options=case.options, agent=case.agent,
                           acw_by_call=acw)
    return build_report(sums, start=case.start, end=case.end, interval=case.interval, tz=TZ, options=case.options,
                        agent=case.agent)


def _from_database(url: str, case: Case) -> Report:
    starts = [b[0] for b in interval_bounds(case.start, case.end, case.interval, TZ)]
    with reading(url) as engine:
        data = read_period(engine, case.start, case.end, starts, case.options, queue=case.queue, agent=case.agent)
    return build_report(data.sums, start=case.start, end=case.end, interval=case.interval, tz=TZ,
                        options=case.options, agent=case.agent)


def written_journal(url: str, tmp_path: Path) -> str:
    upgrade(url)
    write(url, tmp_path / "spill.jsonl", JOURNAL)
    return url


def check_case(url: str, case: Case) -> None:
    expected, found = _reference(case), _from_database(url, case)
    assert found.totals.values == expected.totals.values
    assert found.dispositions == expected.dispositions
    assert [(r.key, r.values) for r in found.intervals] == [(r.key, r.values) for r in expected.intervals]
    assert [(r.key, r.values) for r in found.queues] == [(r.key, r.values) for r in expected.queues]
    assert [(r.key, r.values) for r in found.agents] == [(r.key, r.values) for r in expected.agents]


def check_migration_fills_the_rollups(url: str, down_to: str) -> None:
    """Down to ``down_to`` and up again: the rollups rebuilt from the journal give the same reports (per half
    hour from the quarter hours, per hour from the hourly rollup, ACW per queue)."""
    from alembic import command

    from engine.store.migrate import alembic_config

    before = [_from_database(url, case) for case in CASES[:2]]
    events_before = _count_events(url)
    command.downgrade(alembic_config(url), down_to)
    # A downgrade must never cost journal rows (SQLite batch mode once dropped them by cascade).
    assert _count_events(url) == events_before
    upgrade(url)
    after = [_from_database(url, case) for case in CASES[:2]]
    for old, new in zip(before, after, strict=True):
        assert [(r.key, r.values) for r in new.intervals] == [(r.key, r.values) for r in old.intervals]
        assert new.totals.values == old.totals.values
        assert [(r.key, r.values) for r in new.agents] == [(r.key, r.values) for r in old.agents]
        assert [(r.key, r.values) for r in new.queues] == [(r.key, r.values) for r in old.queues]


def _count_events(url: str) -> int:
    from sqlalchemy import func, select

    from engine.store.database import make_engine
    from engine.store.tables import call_events

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(call_events)).scalar_one())
    finally:
        engine.dispose()
