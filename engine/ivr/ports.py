"""What the IVR runner needs from the outside world, as Protocols.

The same runner drives a real call (``engine/ivr/ari_channel.py`` on a CallSession) and a dry run
(``engine/ivr/simulate.py`` with scripted keys), so `hotline flows simulate` walks exactly the logic
callers get.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol


@dataclass(frozen=True)
class Say:
    """One thing to say: a named prompt (``sound:hotline/<prompt>``) or a text synthesized on the fly.

    ``text`` is used for values only known during the call (a balance, an order status); it is
    rendered with espeak-ng and cached by its hash. ``prompt`` names a file of the prompt catalog.
    """

    prompt: str | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        if (self.prompt is None) == (self.text is None):
            raise ValueError("Say needs exactly one of prompt or text")


@dataclass(frozen=True)
class Choices:
    """What a caller nobody can take may do right now (the offer node's keys follow from it)."""

    message: bool = False  # a message can be recorded
    callback: bool = False  # callbacks are enabled and the caller's number is known
    keep_waiting: bool = False  # agents are signed in for the queue, only busy


class IvrChannel(Protocol):
    """One caller as the IVR sees it."""

    @property
    def caller(self) -> str: ...

    @property
    def dialed(self) -> str: ...

    def now(self) -> datetime: ...

    async def say(self, items: Sequence[Say], *, barge_in: bool = True) -> None:
        """Play ``items`` in order. With ``barge_in`` a key pressed stops the rest; the key (and any
        typed after it) stays in the type-ahead buffer for ``get_digit``."""
        ...

    async def get_digit(self, timeout: float) -> str | None:
        """Next key from the type-ahead buffer, else wait up to ``timeout`` s; None on timeout."""
        ...

    def clear_type_ahead(self) -> None:
        """Forget keys typed ahead (after an invalid entry, so the caller starts clean)."""
        ...

    def note(self, kind: str, data: Mapping[str, Any] | None = None) -> None:
        """Journal an IVR event for this call (never blocks)."""
        ...

    async def reached(self, node: str, kept: Mapping[str, str]) -> None:
        """The caller is at ``node`` with these (non-secret) entries: written down so that a controller
        restarted after a crash says this node again instead of starting the call over."""
        ...

    async def to_queue(self, queue: str, priority: int = 0, node: str | None = None) -> bool:
        """Hand the caller to the ACD queue (from the flow's queue node ``node``, written into the caller's
        position) until an agent or an overflow site has served them (True) or nobody can (False). A
        caller who already waited keeps their place (their first arrival time)."""
        ...

    def choices(self, queue: str) -> Choices:
        """What a caller ``queue`` could not serve may choose now."""
        ...

    async def leave_message(self, queue: str, node: str | None, prompt: str) -> None:
        """Write down that the caller leaves a message (``node``: the offer node; a restart asks for the
        message again instead of offering the choices again), say ``prompt``, then record the message (after
        the beep) as a work item of ``queue``."""
        ...

    async def book_callback(self, queue: str) -> None:
        """Book a callback: the caller's place in ``queue`` is kept for it."""
        ...

    async def hangup(self) -> None: ...


LookupStatus = Literal["ok", "not_found", "unavailable"]


@dataclass(frozen=True)
class LookupResult:
    status: LookupStatus
    values: Mapping[str, Any] = field(default_factory=dict)


class SelfService(Protocol):
    """Self-service data: accounts (balance, bill, data usage) and broadband orders."""

    async def check_password(self, number: str, password: str) -> bool | None:
        """True/False, or None when the source is unavailable. Passwords are stored hashed only."""
        ...

    async def lookup(self, kind: str, key: str) -> LookupResult:
        """``kind`` is one of balance, bill, data_usage, broadband_order; ``key`` the number/order."""
        ...


@dataclass(frozen=True)
class Incident:
    id: int
    prompt: str  # prompt name of the rendered announcement, e.g. "incident-3"
    nodes: frozenset[str]


class Incidents(Protocol):
    def active_for(self, node: str, now: datetime) -> Sequence[Incident]: ...


class Calendar(Protocol):
    def is_holiday(self, day: date) -> bool: ...
