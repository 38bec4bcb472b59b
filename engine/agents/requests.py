"""Supervisors' sign-in/sign-out requests for many agents at once, through the ``agent_requests`` table.

The running controller (engine.queueing.desk) applies every pending request within about a second and
writes its result back; `hotline agent login|logout 1001 1002 ...` / `--tier T` queue one request per agent
in one transaction and wait for all the answers together, so signing in a hundred agents takes about as
long as signing in one. Checks first: every work number must be an active agent before anything is queued.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy
from sqlalchemy import insert, select

from engine.agents.errors import AgentNotFound, BadAgent
from engine.agents.store import check_tier, check_work_number, list_agents
from engine.store.agent_journal_tables import agent_requests

ANSWER_WITHIN_S = 5.0


@dataclass(frozen=True)
class Answer:
    """The controller's result for one agent (``ok`` or why not); None: no answer within the time."""

    work_number: str
    result: str | None


def agents_for(db: sqlalchemy.Engine, work_numbers: Sequence[str], tier: str | None) -> list[str]:
    """The active agents named (in the order given, duplicates dropped), or every active agent of ``tier``.
    AgentNotFound naming every unknown work number; BadAgent when neither or both are given."""
    if bool(work_numbers) == (tier is not None):
        raise BadAgent("give work numbers or --tier, not both and not neither")
    active = {a.work_number: a for a in list_agents(db)}
    if tier is not None:
        tier = check_tier(tier)
        chosen = [n for n, a in active.items() if a.tier == tier]
        if not chosen:
            raise AgentNotFound(f"no active agent has tier {tier}")
        return chosen
    numbers = list(dict.fromkeys(check_work_number(n) for n in work_numbers))
    unknown = [n for n in numbers if n not in active]
    if unknown:
        raise AgentNotFound(f"no agent with work number {', '.join(unknown)}")
    return numbers


def request_all(db: sqlalchemy.Engine, work_numbers: Sequence[str], action: str, reason: str | None = None,
                within_s: float = ANSWER_WITHIN_S, poll_s: float = 0.2) -> list[Answer]:
    """Queue ``action`` for every agent in one transaction, then wait up to ``within_s`` for the answers."""
    now = datetime.now(UTC)
    with db.begin() as conn:
        ids = [conn.execute(insert(agent_requests).values(agent=n, action=action, reason=reason, requested_at=now))
               .inserted_primary_key[0] for n in work_numbers]  # type: ignore[index]
    results: dict[int, str] = {}
    deadline = time.monotonic() + within_s
    while True:
        with db.connect() as conn:
            rows = conn.execute(select(agent_requests.c.id, agent_requests.c.result)
                                .where(agent_requests.c.id.in_(ids), agent_requests.c.result.is_not(None))).all()
        results.update({int(row.id): str(row.result) for row in rows})
        if len(results) == len(ids) or time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    return [Answer(n, results.get(i)) for n, i in zip(work_numbers, ids, strict=True)]
