"""An incident's surge: `hotline incident start --surge STAGE` raises at once the overflow ladder of every
queue that has a stage of that name; `incident stop` releases the ladders it raised.

Each queue gets one ``overflow_requests`` row (``engine.store.overflow_store.request_and_wait``), answered by
the running controller's surge plan (``engine.queueing.surge``) exactly like `hotline overflow set|release`.
The requests carry the reason ``incident <id> surge``; the ones the controller carried out are the record of
which ladders the incident raised, so `incident stop` needs no state of its own. Without a controller the
first request is withdrawn unanswered and the others are not sent: the incident still starts, and the
command says the surge was not applied.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy

from acd.model import QueueName
from acd.queues import QueueConfig
from engine.errors import DomainError
from engine.store.overflow_store import answered_requests, request_and_wait

Ask = Callable[[sqlalchemy.Engine, str, str, str | None, str], str | None]
"""Send one request (queue, action, stage, reason) and return the controller's answer, None without one."""


class UnknownSurgeStage(DomainError):
    code = "unknown-surge-stage"


def _ask(db: sqlalchemy.Engine, queue: str, action: str, stage: str | None, reason: str) -> str | None:
    return request_and_wait(db, queue, action, stage, reason, withdraw=True)


def surge_reason(incident_id: int) -> str:
    return f"incident {incident_id} surge"


def surge_queues(queues: Mapping[QueueName, QueueConfig], stage: str) -> list[str]:
    """The queues whose ladder has a stage named ``stage``, in file order; UnknownSurgeStage when none has."""
    names: list[str] = [name for name, config in queues.items()
             if config.overflow is not None and any(s.name == stage for s in config.overflow.stages)]
    if not names:
        known = sorted({s.name for c in queues.values() if c.overflow is not None for s in c.overflow.stages})
        raise UnknownSurgeStage(f"no queue's overflow ladder has a stage {stage!r} "
                                f"(stages: {', '.join(known) or 'none'})")
    return names


@dataclass(frozen=True)
class SurgeOutcome:
    """What the controller answered per queue (``ok`` or why not) and the queues it never heard of."""

    answers: dict[str, str] = field(default_factory=dict)
    unanswered: list[str] = field(default_factory=list)

    @property
    def done(self) -> list[str]:
        return [queue for queue, answer in self.answers.items() if answer == "ok"]


def _send(db: sqlalchemy.Engine, queues: list[str], action: str, stage: str | None, reason: str,
          ask: Ask) -> SurgeOutcome:
    answers: dict[str, str] = {}
    for index, queue in enumerate(queues):
        answer = ask(db, queue, action, stage, reason)
        if answer is None:  # no controller: the others would wait in vain
            return SurgeOutcome(answers, queues[index:])
        answers[queue] = answer
    return SurgeOutcome(answers)


def raise_surge(db: sqlalchemy.Engine, incident_id: int, stage: str, queues: list[str],
                ask: Ask = _ask) -> SurgeOutcome:
    """Set every queue of ``queues`` (``surge_queues``) to ``stage`` now, for ``incident_id``."""
    return _send(db, queues, "set", stage, surge_reason(incident_id), ask)


def raised_by(db: sqlalchemy.Engine, incident_id: int) -> list[str]:
    """The queues the incident's surge raised and has not released yet."""
    raised: list[str] = []
    for queue, action, _stage in answered_requests(db, surge_reason(incident_id)):
        if action == "set" and queue not in raised:
            raised.append(queue)
        elif action == "release" and queue in raised:
            raised.remove(queue)
    return raised


def release_surge(db: sqlalchemy.Engine, incident_id: int, ask: Ask = _ask) -> SurgeOutcome:
    """Give the ladders the incident raised back to their rules."""
    return _send(db, raised_by(db, incident_id), "release", None, surge_reason(incident_id), ask)
