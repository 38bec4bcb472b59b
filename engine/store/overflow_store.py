"""Reading the surge plan's journal and queueing supervisors' commands for it (CLI side, blocking)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy
from sqlalchemy import insert, select, update

from engine.store.overflow_tables import overflow_events, overflow_requests

ANSWER_WITHIN_S = 5.0


def overflow_history_rows(db: sqlalchemy.Engine, since: datetime, queue: str | None = None) -> list[dict[str, Any]]:
    query = select(overflow_events.c.queue, overflow_events.c.at, overflow_events.c.kind, overflow_events.c.data) \
        .where(overflow_events.c.at >= since).order_by(overflow_events.c.id)
    if queue is not None:
        query = query.where(overflow_events.c.queue == queue)
    with db.connect() as conn:
        return [{"queue": r.queue, "at": r.at, "kind": r.kind, "data": dict(r.data)} for r in conn.execute(query)]


def describe_event(data: dict[str, Any]) -> str:
    """One line a supervisor reads for a journaled ladder event (``acd.overflow.to_record``)."""
    kind = data.get("kind")
    reading = data.get("reading") or {}
    measured = f" [waiting {reading.get('waiting')}, longest {reading.get('longest_wait_s', 0):.0f} s]" \
        if reading else ""
    match kind:
        case "stage_changed":
            hand = " by hand" if data.get("by_hand") else ""
            return f"stage {data['from_stage']} -> {data['to_stage']}{hand}: {data['reason']}{measured}"
        case "sign_in":
            return f"stage {data['stage']} signs in agent {data['agent']} ({data['tier']}){measured}"
        case "sign_out":
            later = " after the call" if data.get("after_call") else ""
            return f"stage {data['stage']} signs out agent {data['agent']}{later}{measured}"
        case "agent_gone":
            return f"agent {data['agent']} left stage {data['stage']}: {data['why']}"
        case "skipped":
            missing = ", ".join(data.get("unregistered") or []) or "none"
            return f"stage {data['stage']}: {data['tier']} short by {data['short']} (not registered: {missing})"
        case "alert":
            return f"ALERT {data['text']}"
        case "night_changed":
            return f"night mode {'on' if data['night'] else 'off'}{measured}"
        case "mode_changed":
            return f"mode {data['mode']}: {data['reason']}"
    return str(data)


WITHDRAWN = "withdrawn: no controller answered"


def request_and_wait(db: sqlalchemy.Engine, queue: str, action: str, stage: str | None, reason: str | None,
                     within_s: float | None = None, poll_s: float = 0.2, withdraw: bool = False) -> str | None:
    """Queue one `overflow set|hold|release` and wait for the controller's answer (None: none in time).

    With ``withdraw`` a request nobody answered in time is closed (result ``WITHDRAWN``), so that a controller
    started later does not carry out what the caller was told did not happen."""
    with db.begin() as conn:
        request_id = conn.execute(insert(overflow_requests).values(
            queue=queue, action=action, stage=stage, reason=reason, requested_at=datetime.now(UTC))
        ).inserted_primary_key[0]  # type: ignore[index]
    deadline = time.monotonic() + (ANSWER_WITHIN_S if within_s is None else within_s)
    while True:
        with db.connect() as conn:
            result = conn.execute(select(overflow_requests.c.result)
                                  .where(overflow_requests.c.id == request_id)).scalar()
        if result is not None:
            return str(result)
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    if withdraw:
        with db.begin() as conn:
            closed = conn.execute(update(overflow_requests)
                                  .where(overflow_requests.c.id == request_id, overflow_requests.c.done_at.is_(None))
                                  .values(done_at=datetime.now(UTC), result=WITHDRAWN)).rowcount
            if not closed:  # answered between the last look and now
                answer = conn.execute(select(overflow_requests.c.result)
                                      .where(overflow_requests.c.id == request_id)).scalar()
                return None if answer is None else str(answer)
    return None


def answered_requests(db: sqlalchemy.Engine, reason: str) -> list[tuple[str, str, str | None]]:
    """``(queue, action, stage)`` of the requests with this ``reason`` the controller carried out, in order."""
    with db.connect() as conn:
        rows = conn.execute(select(overflow_requests.c.queue, overflow_requests.c.action, overflow_requests.c.stage)
                            .where(overflow_requests.c.reason == reason, overflow_requests.c.result == "ok")
                            .order_by(overflow_requests.c.id)).all()
    return [(str(r[0]), str(r[1]), r[2]) for r in rows]
