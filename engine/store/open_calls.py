"""What the journal writer remembers between batches: each open call's row id and its last ``seq``.

Why: a batch must know, for every call it touches, the ``calls`` row to hang events on and the sequence
number to continue from. Asking the database for both costs two SELECTs per batch, a quarter of the
controller's CPU under load (bench/results/journey-20261129-003306). The writer is the only one appending
to a call's events while it runs, so what it committed last is still true at the next batch.

It also keeps the committed events of each call it saw start (up to ``HISTORY_LIMIT``): the call's
disposition is derived from them when it ends, where reading them back was a sixth of the writer's CPU
(bench/results of 2026-11-29).

Only committed positions go in (``JournalWriter._write`` hands them over after the commit), a call leaves at
its ``call.ended`` (a later entry for it is looked up again, correctly) and the oldest leave past ``limit``.
A call that is not here (a new one, one adopted after a controller restart, one ended earlier) is looked up
in the database as before, so a restarted writer or a replayed spill file start from the database's truth.
Collaborators: engine.store.journal (the only user).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Final, NamedTuple

from engine.reports.disposition import Event

# Far above the calls a box holds at once; only calls whose call.ended never came would pile up.
LIMIT: Final = 10_000
# A call with more events than this (a very long one) has its history dropped: read back at its end instead.
HISTORY_LIMIT: Final = 200


class Position(NamedTuple):
    """A call's row in ``calls`` and the ``seq`` of its last committed event; for a call this writer saw
    start, also its start and committed events (``history``), from which its disposition is derived at its
    end without reading them back."""

    call_id: int
    last_seq: int
    started_at: datetime | None = None
    history: tuple[Event, ...] | None = None


class OpenCalls:
    """call uid -> Position of the calls the writer has seen and not yet seen end."""

    def __init__(self, limit: int = LIMIT) -> None:
        self._limit = limit
        # Insertion order is the order of last writes: the longest quiet are dropped first past the limit.
        self._positions: dict[str, Position] = {}

    def __len__(self) -> int:
        return len(self._positions)

    def known(self, uids: Iterable[str]) -> dict[str, Position]:
        """The positions of those of ``uids`` that are kept."""
        positions = self._positions
        return {uid: positions[uid] for uid in uids if uid in positions}

    def commit(self, changes: Mapping[str, Position | None]) -> None:
        """Take a committed batch's outcome: a call's new position, or None when it ended."""
        positions = self._positions
        for uid, position in changes.items():
            # Re-inserted, not updated in place: a call just written to is the youngest.
            positions.pop(uid, None)
            if position is not None:
                positions[uid] = position
        while len(positions) > self._limit:
            del positions[next(iter(positions))]

    def clear(self) -> None:
        self._positions.clear()
