"""The soak's pure part (bench/soak_classify.py, bench/soak_report.py): the caller mix, each call's verdict
from its SIPp report and journal rows, and the journal's gaps."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bench.soak_classify import (
    CallerPlan,
    CallerSide,
    JournalCall,
    JournalEvent,
    by_kind,
    by_number,
    caller_number,
    classify,
    count,
    journal_gaps,
    plan_callers,
    readopted,
)
from bench.soak_report import Kill, markdown, to_json

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)
HOTLINE_HUNG_UP = CallerSide(answered=True, status=200, ended_by="hotline", duration_s=40.0)
CALLER_HUNG_UP = CallerSide(answered=True, status=200, ended_by="caller", duration_s=16.0)


def journal(*kinds: str | tuple[str, dict[str, Any]], call_id: int = 1, source: str = "controller",
            caller: str = "13721000000") -> JournalCall:
    events = []
    for seq, item in enumerate(kinds, start=1):
        kind, data = item if isinstance(item, tuple) else (item, {})
        events.append(JournalEvent(seq, kind, T0 + timedelta(seconds=seq), data))
    return JournalCall(call_id, f"uid-{call_id}", caller, source, None, tuple(events))


def plan(kind: str = "agent", hangup: float | None = None) -> CallerPlan:
    return CallerPlan("13721000000", kind, 0.0, hangup)  # type: ignore[arg-type]


SERVED = journal("call.started", "queue.entered", ("queue.answered", {"agent": "3001"}), "call.agent_hung_up",
                 "call.ended")


def test_the_mix_is_seeded_spaced_and_numbered_per_kind() -> None:
    plans = plan_callers(0.5, 240, seed=7)
    assert len(plans) == 120 and plans == plan_callers(0.5, 240, seed=7)
    assert [p.at_s for p in plans[:3]] == [0.0, 2.0, 4.0]
    assert len({p.number for p in plans}) == 120
    kinds = Counter(p.kind for p in plans)
    assert set(kinds) == {"agent", "self-service", "message", "abandon"} and kinds["agent"] > kinds["message"]
    for p in plans:
        assert p.number[4] == {"agent": "1", "self-service": "2", "message": "3", "abandon": "4"}[p.kind]
        assert (p.hangs_up_after_s is None) == (p.kind in ("agent", "message"))
        if p.kind == "abandon":
            assert 12 <= (p.hangs_up_after_s or 0) <= 20
    assert caller_number("abandon", 42) == "13724000042"
    with pytest.raises(ValueError):
        plan_callers(0, 60)


def test_an_agent_caller_the_hotline_hung_up_on_after_the_agent_is_served() -> None:
    verdict = classify(plan(), HOTLINE_HUNG_UP, [SERVED])
    assert (verdict.category, verdict.call_ids, verdict.readopted) == ("served_agent", (1,), False)


def test_self_service_message_and_abandon() -> None:
    looked_up = journal("call.started", ("lookup.result", {"kind": "password", "status": "ok"}),
                        ("lookup.result", {"kind": "balance", "status": "ok"}), "call.ended")
    assert classify(plan("self-service", 32), CALLER_HUNG_UP, [looked_up]).category == "served_self_service"
    password_only = journal("call.started", ("lookup.result", {"kind": "password", "status": "ok"}), "call.ended")
    gave_up = classify(plan("self-service", 32), CALLER_HUNG_UP, [password_only])
    assert gave_up.category == "abandoned" and "in the IVR" in gave_up.reason
    message = journal("call.started", "queue.closed", ("queue.offer", {"choice": "1"}), "message.saved", "call.ended")
    assert classify(plan("message"), HOTLINE_HUNG_UP, [message]).category == "message"
    waiting = journal("call.started", "queue.entered", "call.ended")
    left = classify(plan("abandon", 15), CALLER_HUNG_UP, [waiting])
    assert left.category == "abandoned" and "waiting in the queue" in left.reason
    # An abandoning caller who reached an agent first was served.
    assert classify(plan("abandon", 15), CALLER_HUNG_UP, [SERVED]).category == "served_agent"


def test_calls_only_on_asterisk_are_not_lost() -> None:
    fallback = journal("call.started", "call.ended", source="fallback")
    assert classify(plan(), HOTLINE_HUNG_UP, [fallback]).category == "fallback_only"


@pytest.mark.parametrize(("side", "rows", "why"), [
    (None, [], "never ran"),
    (CallerSide(answered=False, status=503, ended_by="hotline", duration_s=0), [], "status 503"),
    (CallerSide(answered=False, status=None, ended_by="error", duration_s=0, error="no answer within 60 s"), [],
     "no answer within 60 s"),
    (HOTLINE_HUNG_UP, [], "no journal record"),
    # The hotline said "call again later" and hung up: a caller hung up on.
    (HOTLINE_HUNG_UP, [journal("call.started", "call.readopted", ("queue.offer", {"choice": None}),
                               "prompt.played", "call.ended")], "hung up without serving"),
    # A caller who waits for the hotline and reaches their own limit was left waiting.
    (CallerSide(answered=True, status=200, ended_by="caller", duration_s=240), [journal("call.started",
                                                                                       "queue.entered")],
     "caller's limit after 240 s"),
    (CallerSide(answered=True, status=200, ended_by="error", duration_s=30, error="the call broke off"),
     [SERVED], "broke off"),
])
def test_everything_else_is_lost_with_a_reason(side: CallerSide | None, rows: list[JournalCall], why: str) -> None:
    verdict = classify(plan(), side, rows)
    assert verdict.category == "lost" and why in verdict.reason, verdict


def test_counts_cover_every_category_and_kind() -> None:
    served = classify(plan(), HOTLINE_HUNG_UP, [SERVED])
    resumed = classify(plan(), HOTLINE_HUNG_UP, [journal("call.started", "call.readopted", "call.ended")])
    totals = count([served, resumed])
    assert totals["offered"] == 2 and totals["served_agent"] == 1 and totals["lost"] == 1
    assert totals["message"] == 0
    assert by_kind([served])["agent"]["served_agent"] == 1 and by_kind([served])["message"]["lost"] == 0
    assert readopted([served, resumed]) == {**readopted([]), "lost": 1}


def test_a_clean_journal_has_no_gap() -> None:
    assert journal_gaps([SERVED, journal("call.started", "call.ended", call_id=2, source="fallback")]) == []


def test_journal_gaps_name_each_broken_promise() -> None:
    unclosed = journal("call.started", "queue.entered", call_id=1)
    twice_closed = journal("call.started", "call.ended", "call.ended", call_id=2)
    unstarted = journal("call.readopted", "call.ended", call_id=3)
    same = JournalEvent(2, "call.position", T0, {})
    duplicated = JournalCall(4, "uid-4", "1", "controller", None,
                             (JournalEvent(1, "call.started", T0 - timedelta(seconds=1)), same,
                              JournalEvent(3, "call.position", T0, {}), JournalEvent(4, "call.ended", T0)))
    holes = JournalCall(5, "uid-5", "1", "controller", None,
                        (JournalEvent(1, "call.started", T0), JournalEvent(3, "call.ended", T0 + timedelta(1))))
    problems = {(g.call_id, g.problem) for g in journal_gaps([unclosed, twice_closed, unstarted, duplicated, holes])}
    assert problems == {
        (1, "call.ended 0 times"),
        (2, "call.ended 2 times"),
        (3, "no call.started"),
        (4, f"call.position at {T0.isoformat()} 2 times"),
        (5, "seq not contiguous (missing [2], repeated [])"),
    }


def test_calls_are_found_by_caller_number() -> None:
    a, b = journal("call.started", caller="1"), journal("call.started", call_id=2, caller="2")
    assert by_number([a, b, journal("call.started", call_id=3, caller=None)]) == {"1": [a], "2": [b]}


def test_the_report_says_pass_only_without_lost_callers_and_gaps() -> None:
    params = {"started": "2026-11-29T01:00:00+00:00", "command": "python -m bench.soak --minutes 4",
              "minutes": 4, "rate": 0.5, "agents": 6, "holding_agents": 2, "kill_every_s": 60, "cpus": 2,
              "load_average_before": [1.0, 1, 1], "load_average_after": [2.0, 1, 1], "duration_s": 400}
    served = classify(plan(), HOTLINE_HUNG_UP, [SERVED])
    kills = [Kill(60.0, 3.2), Kill(120.0, 2.9)]
    text = markdown(params, kills, [served], [])
    assert "**PASS**: 0 lost callers" in text and "restart (kill to running) 2.9-3.2 s" in text
    lost = classify(plan(), None, [])
    unclosed = journal_gaps([journal("call.started", call_id=9)])
    text = markdown(params, kills, [served, lost], unclosed)
    assert "**FAIL**: 1 lost callers" in text and "| 9 | uid-9 | call.ended 0 times |" in text
    data = to_json(params, kills, [served, lost], unclosed, [SERVED])
    assert data["totals"]["lost"] == 1 and data["totals"]["journal_gaps"] == 1 and data["lost"][0]["reason"]
