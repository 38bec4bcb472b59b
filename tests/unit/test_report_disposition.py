"""Dispositions derived from a call's journal events: one case per disposition, then the precedence rules.

Event kinds and data are the ones the engine writes (call.note / JournalEntry across engine/).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.reports.disposition import DISPOSITIONS, Event, Rules, derive

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def journal(*steps: tuple[float, str, dict[str, Any]], source: str = "controller") -> list[Event]:
    return [("call.started", T0, {"caller": "13800138000", "dialed": "10086", "source": source}),
            *((kind, T0 + timedelta(seconds=second), data) for second, kind, data in steps)]


def ended(second: float, outcome: str) -> tuple[float, str, dict[str, Any]]:
    return second, "call.ended", {"outcome": outcome, "cause": "normal_clearing"}


QUEUED = (5.0, "queue.entered", {"queue": "general", "priority": 0})

CASES: dict[str, tuple[list[Event], dict[str, Any]]] = {
    "answered": (journal(QUEUED, (8, "queue.offered", {"agent": "1001"}), (12, "queue.answered", {"agent": "1001"}),
                         (112, "call.agent_hung_up", {"agent": "1001"}), ended(115, "completed")),
                 {"agent": "1001", "wait_s": 7.0, "rings": 1, "queue": "general",
                  "talks": [["1001", 100.0, 0.0, "agent"]]}),
    "transferred": (journal(QUEUED, (12, "queue.answered", {"agent": "1001"}),
                            (40, "call.transferred", {"from_agent": "1001", "to_queue": "vip", "to_agent": None,
                                                      "by": "supervisor"}),
                            (41, "queue.entered", {"queue": "vip"}), (50, "queue.answered", {"agent": "2001"}),
                            ended(90, "completed")),
                    {"from_agent": "1001", "to_queue": "vip", "agent": "1001", "transfers": 1,
                     "talks": [["1001", 28.0, 0.0, "transfer"], ["2001", 40.0, 0.0, "end"]]}),
    "silent": (journal(QUEUED, (12, "queue.answered", {"agent": "1001"}),
                       (20, "silent.handover", {"agent": "1001", "variant": "noisy", "by": "agent"}),
                       ended(40, "silent")),
               {"variant": "noisy", "agent": "1001"}),
    "self_service": (journal((3, "password.checked", {"ok": True}),
                             (5, "lookup.result", {"node": "bill", "kind": "bill", "status": "ok"}),
                             ended(30, "abandoned")),
                     {"result": "bill", "tried_self_service": True}),
    "message_left": (journal(QUEUED, (305, "queue.left", {"queue": "general", "waited_s": 300, "why": "max wait"}),
                             (310, "queue.offer", {"queue": "general", "choice": "1"}),
                             (340, "message.saved", {"message": 4}), ended(345, "completed")),
                     {"message": 4, "wait_s": 300.0}),
    "callback_booked": (journal((5, "queue.closed", {"queue": "general", "why": "no agent signed in"}),
                                (9, "queue.offer", {"queue": "general", "choice": "2"}),
                                (10, "callback.booked", {"callback": 3, "queue": "general"}), ended(14, "completed")),
                        {"callback": {"booked": 3}, "queue": "general"}),
    "unserved": (journal((5, "queue.closed", {"queue": "general", "why": "no agent signed in"}),
                         (9, "queue.offer", {"queue": "general", "choice": None}), ended(14, "completed")),
                 {"why": "no agent signed in"}),
    "abandoned_ivr": (journal((1, "ivr.node", {"node": "main_menu", "type": "menu"}), ended(6, "abandoned")),
                      {"node": "main_menu", "by": "caller"}),
    "abandoned_queue": (journal(QUEUED, ended(65.5, "abandoned")), {"wait_s": 60.5, "queue": "general"}),
    "short_abandon": (journal(QUEUED, ended(25, "abandoned")), {"wait_s": 20.0}),
    "closed_hours": (journal((0.5, "ivr.branch", {"node": "hours", "to": "closed", "why": "closed"}),
                             (9, "ivr.exit", {"how": "hangup", "node": "closed"}), ended(10, "completed")), {}),
    "misdial": (journal(ended(3, "misdial")), {}),
    "overflowed": (journal(QUEUED, (65, "overflow.moved", {"to_queue": "general-b", "to_site": "beijing"}),
                           ended(66, "completed")),
                   {"to_queue": "general-b", "to_site": "beijing", "overflows": 1}),
    "handed_to_fallback": (journal((30, "call.handed_to_fallback", {"reason": "controller stopped"})),
                           {"reason": "controller stopped"}),
    "callback_unanswered": (journal((0, "queue.entered", {"queue": "general", "callback": True}),
                                    (5, "queue.answered", {"agent": "1001"}),
                                    (40, "callback.retry", {"callback": 3}), ended(41, "callback_unanswered"),
                                    source="callback"), {}),
    "error": (journal(QUEUED, (12, "queue.answered", {"agent": "1001"}), ended(13, "error")), {}),
}


def test_every_disposition_has_a_case() -> None:
    assert sorted(CASES) == sorted(DISPOSITIONS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_disposition(name: str) -> None:
    events, detail = CASES[name]
    found = derive(events)
    assert found.name == name
    assert {key: found.detail.get(key) for key in detail} == detail


def test_fallback_calls_from_cdrs() -> None:
    events = journal((1, "call.answered", {}), (1, "prompt.played", {"prompt": "apology"}), ended(8, "fallback"),
                     source="fallback")
    assert derive(events).name == "handed_to_fallback"


def test_short_abandon_threshold_is_a_rule() -> None:
    events = journal(QUEUED, ended(25, "abandoned"))
    assert derive(events, Rules(short_abandon_s=10)).name == "abandoned_queue"


def test_a_queue_wins_over_self_service_before_it() -> None:
    events = journal((5, "lookup.result", {"kind": "balance", "status": "ok"}),
                     (8, "queue.entered", {"queue": "general"}), ended(60, "abandoned"))
    found = derive(events)
    assert (found.name, found.detail["wait_s"], found.detail["tried_self_service"]) == ("abandoned_queue", 52.0, True)


def test_a_failed_lookup_is_not_self_service() -> None:
    events = journal((5, "lookup.result", {"kind": "balance", "status": "unavailable"}), ended(9, "abandoned"))
    assert derive(events).name == "abandoned_ivr"


def test_an_incident_notice_heard_is_self_service() -> None:
    events = journal((5, "incident.heard", {"incident": 2, "node": "main_menu"}), ended(9, "abandoned"))
    assert derive(events).detail["result"] == "incident 2"


def test_keep_waiting_after_the_maximum_wait_then_hanging_up_is_an_abandon() -> None:
    events = journal(QUEUED, (305, "queue.left", {"queue": "general", "why": "max wait"}),
                     (310, "queue.offer", {"queue": "general", "choice": "3"}),
                     (311, "queue.keep_waiting", {"queue": "general"}), (311, "queue.entered", {"queue": "general"}),
                     ended(400, "abandoned"))
    found = derive(events)
    assert (found.name, found.detail["wait_s"]) == ("abandoned_queue", 395.0)


def test_answered_after_an_overflow_to_another_queue_is_answered() -> None:
    events = journal(QUEUED, (65, "overflow.moved", {"to_queue": "general-b"}),
                     (70, "queue.answered", {"agent": "3001"}), ended(90, "completed"))
    found = derive(events)
    assert (found.name, found.detail["agent"], found.detail["overflows"]) == ("answered", "3001", 1)


def test_holds_are_taken_out_of_talk() -> None:
    events = journal(QUEUED, (10, "queue.answered", {"agent": "1001"}),
                     (50, "hold.ended", {"agent": "1001", "seconds": 30.0, "why": "agent"}),
                     (70, "hold.ended", {"agent": "1001", "seconds": 5.0, "why": "call ended"}), ended(70, "completed"))
    assert derive(events).detail["talks"] == [["1001", 25.0, 35.0, "end"]]


def test_no_events_at_all() -> None:
    assert derive([]).name == "abandoned_ivr"
