"""Every KPI of `hotline report` on one hand-built journal whose figures were computed by hand.

The journal (``JOURNAL``, 2026-11-23 in Asia/Shanghai) has twelve calls, one per line of ``CALLS`` below,
plus agent 1001's state changes. The expected figures (``EXPECTED``) are worked out in the comments next to
them from those lines, not from the code. ``test_report_cli`` writes the same journal through the real
journal writer and checks the CLI prints the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.reports.disposition import derive
from engine.reports.kpis import (
    AgentSpan,
    CallerHistory,
    CallFacts,
    Options,
    PeriodSums,
    Report,
    build_report,
    interval_bounds,
    spans_from_changes,
    sums_from_facts,
)
from engine.store.journal import AGENT_PREFIX, JournalEntry

TZ = ZoneInfo("Asia/Shanghai")
DAY_START = datetime(2026, 11, 23, tzinfo=TZ)
DAY_END = DAY_START + timedelta(days=1)


def at(clock: str) -> datetime:
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return DAY_START.replace(hour=hours, minute=minutes, second=seconds)


def call(uid: str, caller: str, *steps: tuple[str, str, dict[str, Any]],
         source: str = "controller") -> list[JournalEntry]:
    started = JournalEntry(uid, "call.started", at(steps[0][1]),
                           {"caller": caller, "dialed": "10086", "source": source})
    return [started, *(JournalEntry(uid, kind, at(clock), data) for kind, clock, data in steps[1:])]


def s(event: str, clock: str, /, **data: Any) -> tuple[str, str, dict[str, Any]]:
    return event, clock, data


CALLS = [
    # A: general, offered to 1001 (no answer) then 1002, answered after 25 s, held 20 s, agent hangs up.
    call("A", "13800000001", s("call.started", "09:00:00"), s("queue.entered", "09:00:30", queue="general"),
         s("queue.offered", "09:00:40", agent="1001"), s("queue.no_answer", "09:00:50", agent="1001"),
         s("queue.offered", "09:00:50", agent="1002"), s("queue.answered", "09:00:55", agent="1002"),
         s("hold.ended", "09:03:00", agent="1002", seconds=20.0, why="agent"),
         s("call.agent_hung_up", "09:05:55", agent="1002"),
         s("call.ended", "09:06:00", outcome="completed", cause="normal_clearing")),
    # B: general, answered by 1001 after 10 s, transferred to complaints after 180 s, 1002 talks 180 s.
    call("B", "13800000002", s("call.started", "09:10:00"), s("queue.entered", "09:10:20", queue="general"),
         s("queue.offered", "09:10:25", agent="1001"), s("queue.answered", "09:10:30", agent="1001"),
         s("call.transferred", "09:13:30", from_agent="1001", to_queue="complaints", to_agent=None, by="agent"),
         s("queue.entered", "09:13:31", queue="complaints"), s("queue.offered", "09:13:35", agent="1002"),
         s("queue.answered", "09:13:40", agent="1002"), s("call.ended", "09:16:40", outcome="completed")),
    # C: hangs up after 30 s in the queue: abandoned.
    call("C", "13800000003", s("call.started", "09:20:00"), s("queue.entered", "09:20:10", queue="general"),
         s("call.ended", "09:20:40", outcome="abandoned")),
    # D: hangs up after 15 s in the queue: a short abandon.
    call("D", "13800000004", s("call.started", "09:30:00"), s("queue.entered", "09:30:10", queue="general"),
         s("call.ended", "09:30:25", outcome="abandoned")),
    # E: hears the balance and hangs up: self-service.
    call("E", "13800000005", s("call.started", "09:40:00"), s("password.checked", "09:40:20", ok=True),
         s("lookup.result", "09:40:25", node="balance", kind="balance", status="ok"),
         s("call.ended", "09:41:00", outcome="abandoned")),
    # F: three wrong passwords, the flow says goodbye: tried self-service, left the IVR without a result.
    call("F", "13800000006", s("call.started", "10:00:00"), s("ivr.node", "10:00:05", node="auth_balance"),
         s("password.checked", "10:00:20", ok=False), s("ivr.node", "10:00:50", node="goodbye"),
         s("ivr.exit", "10:00:55", how="hangup", node="goodbye"), s("call.ended", "10:01:00", outcome="completed")),
    # G: A's caller again (a repeat call); waits the maximum 300 s, leaves a message.
    call("G", "13800000001", s("call.started", "10:30:00"), s("queue.entered", "10:30:05", queue="general"),
         s("queue.left", "10:35:05", queue="general", waited_s=300.0, why="max wait"),
         s("queue.offer", "10:35:10", queue="general", choice="1"), s("message.saved", "10:35:40", message=1),
         s("call.ended", "10:35:45", outcome="completed")),
    # H: VIP, answered by 1003 after 30 s, handed to the silent-call script after 60 s.
    call("H", "13900000001", s("call.started", "11:00:00"), s("queue.entered", "11:00:05", queue="vip"),
         s("queue.offered", "11:00:30", agent="1003"), s("queue.answered", "11:00:35", agent="1003"),
         s("silent.handover", "11:01:35", agent="1003", variant="silent", by="agent"),
         s("call.ended", "11:02:30", outcome="silent")),
    # J: a booked callback the hotline places: 1001 talks 120 s with the customer.
    call("J", "13800000012", s("call.started", "12:00:00"),
         s("queue.entered", "12:00:00", queue="general", callback=True),
         s("queue.offered", "12:00:05", agent="1001"), s("queue.answered", "12:00:10", agent="1001"),
         s("callback.done", "12:00:10", callback=7, agent="1001"), s("call.agent_hung_up", "12:02:10", agent="1001"),
         s("call.ended", "12:02:15", outcome="completed"), source="callback"),
    # K: waits the maximum, books a callback.
    call("K", "13800000010", s("call.started", "12:30:00"), s("queue.entered", "12:30:05", queue="general"),
         s("queue.left", "12:35:05", queue="general", why="max wait"),
         s("queue.offer", "12:35:10", queue="general", choice="2"), s("callback.booked", "12:35:12", callback=7),
         s("call.ended", "12:35:20", outcome="completed")),
    # L: moved to another site by the overflow after 60 s in the queue; gone 5 s later.
    call("L", "13800000011", s("call.started", "13:00:00"), s("queue.entered", "13:00:05", queue="general"),
         s("overflow.moved", "13:01:05", to_site="site-b"), s("call.ended", "13:01:10", outcome="completed")),
    # I: after hours: the closed branch.
    call("I", "13800000009", s("call.started", "23:30:00"), s("ivr.branch", "23:30:01", node="hours", to="closed",
                                                             why="closed"),
         s("ivr.exit", "23:30:10", how="hangup", node="closed"), s("call.ended", "23:30:11", outcome="completed")),
]

# Agent 1001 only (as if the others had not signed in through the controller): state changes of the day.
AGENT_1001 = [("09:00:00", "logged_out", "available", None), ("09:10:25", "available", "ringing", "B"),
              ("09:10:30", "ringing", "on_call", "B"), ("09:13:30", "on_call", "after_call_work", "B"),
              ("09:14:30", "after_call_work", "available", None), ("12:00:05", "available", "ringing", "J"),
              ("12:00:10", "ringing", "on_call", "J"), ("12:02:10", "on_call", "after_call_work", "J"),
              ("12:03:10", "after_call_work", "available", None), ("13:00:00", "available", "logged_out", None)]
AGENT_ENTRIES = [JournalEntry(f"{AGENT_PREFIX}1001", "agent.state", at(clock),
                              {"agent": "1001", "from": old, "to": new, "reason": "test", "call": uid})
                 for clock, old, new, uid in AGENT_1001]
JOURNAL = [entry for entries in CALLS for entry in entries] + AGENT_ENTRIES

EXPECTED: dict[str, float | int | None] = {
    "calls": 11,                  # A B C D E F G H I K L (J is a callback the hotline placed)
    "offered": 8,                 # A B C D G H K L reached a queue
    "answered": 3,                # A B H
    "answered_pct": 37.5,         # 3 / 8
    "short_abandons": 1,          # D (15 s <= 20 s)
    "abandoned": 1,               # C (30 s)
    "abandon_rate": 14.3,         # 1 / (8 - 1)
    "unserved": 0,
    "service_level": 14.3,        # only B within 20 s: 1 / (8 - 1)
    "service_level_vip": 0.0,     # H after 30 s: 0 / 1
    "asa": 21.7,                  # (25 + 10 + 30) / 3
    "avg_queue_time": 96.9,       # (25 + 10 + 30 + 15 + 300 + 30 + 300 + 60) / 8
    "longest_queue_time": 300.0,  # G and K
    "avg_talk": 164.0,            # conversations A 280 (300 - 20 hold), B 180 + 180, H 60, J 120: 820 / 5
    "avg_hold": 4.0,              # 20 / 5
    "avg_acw": 24.0,              # 1001's two 60 s wrap-ups: 120 / 5
    "aht": 192.0,                 # 164 + 4 + 24
    "occupancy": 2.1,             # 1001 on call 180 + 120 = 300; available 625 + 9935 + 3410: 300 / 14270
    "rings_before_answer": 1.33,  # A 2, B 1, H 1: 4 / 3
    "transfer_rate": 33.3,        # B: 1 / 3
    "fcr": 66.7,                  # A's caller called again (G) within 24 h; B and H did not: 2 / 3
    "repeat_caller_rate": 9.1,    # G: 1 / 11
    "silent_calls": 1,            # H
    "messages": 1,                # G
    "callbacks_booked": 1,        # K
    "callbacks_done": 1,          # J
    "callbacks_failed": 0,
    "queue_placement_rate": 72.7,  # 8 / 11
    "overflows": 1,               # L
    "self_service_rate": 50.0,    # E completed; E and F tried: 1 / 2
}
EXPECTED_DISPOSITIONS = {"abandoned_ivr": 1, "abandoned_queue": 1, "answered": 1, "callback_booked": 1,
                         "closed_hours": 1, "message_left": 1, "overflowed": 1, "self_service": 1, "short_abandon": 1,
                         "silent": 1, "transferred": 1}


def facts_of(journal: list[JournalEntry], start: datetime = DAY_START,
             end: datetime = DAY_END) -> tuple[list[CallFacts], list[AgentSpan], CallerHistory]:
    """Per-call facts of the calls started in [start, end), agent spans in it and callers' history, built
    straight from the entries (what engine.reports.query sums in the database)."""
    events: dict[str, list[JournalEntry]] = defaultdict(list)
    changes = []
    for entry in journal:
        if entry.call_uid.startswith(AGENT_PREFIX):
            changes.append((str(entry.data["agent"]), entry.at, str(entry.data["to"]), entry.data.get("call")))
        else:
            events[entry.call_uid].append(entry)
    facts = []
    for uid, entries in events.items():
        first = entries[0].data
        found = derive([(e.kind, e.at, e.data) for e in entries])
        facts.append(CallFacts.from_detail(uid, first["caller"], first["source"], entries[0].at, found.name,
                                           found.detail))
    starts: dict[str, list[datetime]] = defaultdict(list)
    for fact in sorted(facts, key=lambda f: f.started_at):
        if fact.inbound and fact.caller:
            starts[fact.caller].append(fact.started_at)
    facts = [f for f in facts if start <= f.started_at < end]
    return facts, spans_from_changes(changes, end, start), CallerHistory(dict(starts))


def sums(interval: str = "1h", agent: str | None = None, options: Options | None = None) -> PeriodSums:
    options = options or Options()
    facts, spans, history = facts_of(JOURNAL)
    if agent is not None:
        facts = [f for f in facts if any(t.agent == agent for t in f.talks)]
        spans = [x for x in spans if x.agent == agent]
    return sums_from_facts(facts, spans, history, bounds=interval_bounds(DAY_START, DAY_END, interval, TZ),
                           options=options, agent=agent)


def report(interval: str = "1h", agent: str | None = None) -> Report:
    return build_report(sums(interval, agent), start=DAY_START, end=DAY_END, interval=interval, tz=TZ, agent=agent)


@pytest.mark.parametrize("key", list(EXPECTED))
def test_every_figure_matches_the_hand_computation(key: str) -> None:
    assert report().totals.values[key] == EXPECTED[key]


def test_dispositions_of_the_day() -> None:
    assert report().dispositions == EXPECTED_DISPOSITIONS


def test_per_hour_rows_hold_the_calls_that_started_in_them() -> None:
    rows = {r.key[11:16]: r.values for r in report().intervals}
    assert len(rows) == 24
    assert rows["09:00"]["calls"] == 5 and rows["09:00"]["offered"] == 4 and rows["09:00"]["answered"] == 2
    assert rows["09:00"]["abandon_rate"] == 33.3  # C / (A B C D - D)
    assert rows["10:00"]["messages"] == 1 and rows["10:00"]["repeat_caller_rate"] == 50.0  # F, G: G repeats
    assert rows["12:00"]["calls"] == 1 and rows["12:00"]["callbacks_done"] == 1  # K inbound, J placed
    assert rows["23:00"]["calls"] == 1 and rows["23:00"]["offered"] == 0
    assert rows["14:00"]["calls"] == 0 and rows["14:00"]["service_level"] is None
    # Agent time is cut at the hour: 1001 was on call 180 s and available 625 + 2730 s in the 09:00 hour.
    assert rows["09:00"]["occupancy"] == round(100 * 180 / (180 + 625 + 2730), 1)
    assert sum(r["calls"] or 0 for r in rows.values()) == EXPECTED["calls"]


def test_per_queue_and_vip() -> None:
    queues = {r.key: r.values for r in report().queues}
    assert set(queues) == {"general", "vip"}
    assert queues["vip"]["offered"] == 1 and queues["vip"]["service_level"] == 0.0
    assert queues["general"]["offered"] == 7 and queues["general"]["answered"] == 2  # A B (J is placed)
    assert queues["general"]["service_level"] == round(100 * 1 / 6, 1)
    assert queues["general"]["avg_acw"] == 120 / 4  # both wrap-ups were for general calls (B, J); 4 conversations


def test_per_agent() -> None:
    agents = {r.key: r.values for r in report().agents}
    assert agents["1001"] == {"conversations": 2, "avg_talk": 150.0, "avg_hold": 0.0, "avg_acw": 60.0,
                              "aht": 210.0, "occupancy": 2.1, "transfers": 1, "silent_calls": 0}
    assert agents["1002"]["conversations"] == 2 and agents["1002"]["avg_talk"] == 230.0
    assert agents["1002"]["avg_hold"] == 10.0 and agents["1002"]["aht"] == 240.0
    assert agents["1002"]["occupancy"] is None  # no state changes journaled for 1002 in this fixture
    assert agents["1003"]["silent_calls"] == 1


def test_one_agent_report_counts_only_their_conversations() -> None:
    only = report(agent="1001")
    assert [r.key for r in only.agents] == ["1001"]
    assert only.totals.values["avg_talk"] == 150.0 and only.totals.values["occupancy"] == 2.1


@pytest.mark.parametrize(("threshold", "short", "abandoned"), [(10, 0, 2), (20, 1, 1), (30, 2, 0)])
def test_short_abandon_threshold_is_an_option(threshold: float, short: int, abandoned: int) -> None:
    options = Options(short_abandon_s=threshold)
    values = build_report(sums("day", options=options), start=DAY_START, end=DAY_END, interval="day", tz=TZ,
                          options=options).totals.values
    assert (values["short_abandons"], values["abandoned"]) == (short, abandoned)


@pytest.mark.parametrize(("interval", "count", "first"), [("30m", 48, "00:00"), ("1h", 24, "00:00"),
                                                          ("day", 1, "00:00"), ("week", 1, "00:00"),
                                                          ("month", 1, "00:00")])
def test_intervals_in_local_time(interval: str, count: int, first: str) -> None:
    bounds = interval_bounds(DAY_START, DAY_END, interval, TZ)
    assert len(bounds) == count
    assert bounds[0][0].astimezone(TZ).strftime("%H:%M") == first and bounds[-1][1] == DAY_END


def test_weeks_start_on_monday_and_months_on_the_first() -> None:
    start, end = datetime(2026, 11, 20, tzinfo=TZ), datetime(2027, 1, 5, tzinfo=TZ)
    weeks = interval_bounds(start, end, "week", TZ)
    assert weeks[1][0] == datetime(2026, 11, 23, tzinfo=TZ)  # a Monday
    months = interval_bounds(start, end, "month", TZ)
    assert [m[0].date().isoformat() for m in months] == ["2026-11-20", "2026-12-01", "2027-01-01"]


def test_an_empty_period_is_an_empty_report() -> None:
    empty = build_report(PeriodSums([], [], [], [], {}), start=DAY_START, end=DAY_END, interval="1h", tz=TZ)
    assert empty.empty and empty.totals.values["calls"] == 0 and empty.totals.values["service_level"] is None
