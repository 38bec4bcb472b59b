"""Requests delivered to a call talking to an agent, through its inbox: a blind transfer (a queue or one
agent), or a supervisor handing a silent caller to the silent-call script."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.pbx.ari_events import Event


@dataclass(frozen=True)
class Transfer(Event):
    """Send the caller on (blind transfer) to a queue or one agent; delivered through the call's inbox.
    ``front``: the caller goes before everyone waiting (a silent caller who spoke up after all)."""

    queue: str | None = None
    agent: str | None = None
    front: bool = False
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class ScriptRequest(Event):
    """A supervisor hands the caller to the silent-call script (``variant``: silent, low_volume, noisy)."""

    variant: str = "silent"
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True)
class QueueWake(Event):
    """Look again: delivered to a waiting caller's inbox when an agent was offered to them or the staffing
    of the queues changed (so the waiting loop needs no polling)."""

    at: datetime = field(default_factory=lambda: datetime.now(UTC))
