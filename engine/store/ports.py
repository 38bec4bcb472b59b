"""The journal as the call logic sees it: a sink that never blocks."""

from __future__ import annotations

from typing import Protocol

from engine.store.journal import JournalEntry


class Journal(Protocol):
    def append(self, entry: JournalEntry) -> None: ...
