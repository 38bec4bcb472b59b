"""A caller's position: written as text on the channel, read back by a restarted controller."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.call_position import BadPosition, CallPosition

AT = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("position", [
    CallPosition("ivr", node="main_menu", vars={"order_no": "12345"}),
    CallPosition("queued", queue="general", queued_at=AT, priority=10),
    CallPosition("talking", queue="vip", queued_at=AT, priority=10, agent="1001", leg="agent1-1.2",
                 bridge="b-1", recording="1.2-1001-abcd", answered_at=AT),
    CallPosition("held", queue="general", queued_at=AT, agent="1001", leg="agent1-1.2", bridge="b-1",
                 recording="r", answered_at=AT, held_since=AT),
    CallPosition("script", queue="general", variant="noisy"),
    CallPosition("script", queue="general", variant="silent", step=4),
    CallPosition("message", queue="general"),
    CallPosition("closing"),
])
def test_round_trip_keeps_every_fact(position: CallPosition) -> None:
    text = position.to_text()
    assert CallPosition.parse(text) == position
    assert position.resumable() is None
    assert "null" not in text  # unset facts are left out: the book's lines stay short


@pytest.mark.parametrize(("text", "why"), [
    ("not json", "not JSON"),
    ("[1]", "not an object"),
    ('{"stage": "dancing"}', "unknown stage"),
    ('{"stage": "queued", "queue": "general", "queued_at": "2026-11-28T09:30:00"}', "no time zone"),
])
def test_a_position_that_cannot_be_resumed_says_why(text: str, why: str) -> None:
    with pytest.raises(BadPosition, match=why):
        CallPosition.parse(text)


def test_missing_facts_are_named() -> None:
    assert CallPosition("talking", queue="general", agent="1001").resumable() == \
        "talking position without leg, bridge, recording"
    assert CallPosition("ivr").resumable() == "ivr position without node"
