"""Calls that reached the dialplan fallback while no controller was connected, brought into the journal.

The fallback path marks its CDR (userfield ``fallback``); cdr_custom writes every CDR as a CSV line. The
controller reads the lines added since its last look (offset kept in the data folder) at start and
every few seconds, so the journal has no holes even for calls it never saw. A caller who left a message
there gets it saved as a work item (engine.fallback_messages) and journaled as ``message.saved``.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from engine.store.journal import JournalEntry
from engine.store.ports import Journal

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SavedMessage:
    """A message a caller left on the fallback path, now a work item (table ``messages``)."""

    id: int
    seconds: float


@dataclass(frozen=True)
class FallbackCall:
    uid: str
    caller: str
    dialed: str
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime
    disposition: str


def _epoch(text: str) -> datetime | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return datetime.fromtimestamp(value, UTC) if value > 0 else None


def parse_cdr_lines(text: str) -> Iterator[FallbackCall]:
    """Fallback calls among complete CDR lines (uniqueid,src,dialed,start,answer,end,disposition,userfield)."""
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 8 or row[7] != "fallback":
            continue
        start = _epoch(row[3])
        end = _epoch(row[5]) or start
        if start is None or end is None:
            continue
        yield FallbackCall(uid=row[0], caller=row[1], dialed=row[2], started_at=start,
                           answered_at=_epoch(row[4]), ended_at=end, disposition=row[6])


def journal_entries(call: FallbackCall, message: SavedMessage | None = None) -> list[JournalEntry]:
    entries = [JournalEntry(call.uid, "call.started", call.started_at,
                            {"caller": call.caller, "dialed": call.dialed, "source": "fallback"})]
    if call.answered_at is not None:
        entries.append(JournalEntry(call.uid, "call.answered", call.answered_at, {}))
        entries.append(JournalEntry(call.uid, "prompt.played", call.answered_at, {"prompt": "apology"}))
    if message is not None:
        entries.append(JournalEntry(call.uid, "message.saved", call.ended_at,
                                    {"message": message.id, "seconds": message.seconds, "source": "fallback"}))
    entries.append(JournalEntry(call.uid, "call.ended", call.ended_at,
                                {"outcome": "fallback", "cause": call.disposition.lower().replace(" ", "_")}))
    return entries


@dataclass(frozen=True)
class Mark:
    """How far the CDR file has been read: its inode (a rotated file starts over) and a byte offset."""

    inode: int
    offset: int


class MessageSaver(Protocol):
    def save(self, call: FallbackCall) -> SavedMessage | None: ...


class FallbackCdrReader:
    """Reads new complete lines of the CDR file, remembering where it stopped.

    ``read_new`` has no side effect; ``commit`` records a mark once what came before it is in the journal,
    so a controller killed in between reads those calls again rather than losing them (the message they
    left is saved once whatever happens: engine.fallback_messages is idempotent by file name)."""

    def __init__(self, cdr_file: Path, offset_file: Path) -> None:
        self.cdr_file = cdr_file
        self.offset_file = offset_file

    def _load_offset(self) -> Mark:
        try:
            inode, offset = self.offset_file.read_text(encoding="utf-8").split()
            return Mark(int(inode), int(offset))
        except (FileNotFoundError, ValueError):
            return Mark(0, 0)

    def read_new(self) -> tuple[list[tuple[FallbackCall, Mark]], Mark | None]:
        """The fallback calls since the last commit, each with the mark just past its line, and the mark
        past the last complete line (None when the file does not exist yet)."""
        try:
            stat = self.cdr_file.stat()
        except FileNotFoundError:
            return [], None
        mark = self._load_offset()
        offset = mark.offset
        if mark.inode != stat.st_ino or offset > stat.st_size:
            offset = 0  # rotated or truncated: read the new file from its start
        with open(self.cdr_file, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written last line waits for the next look
        found: list[tuple[FallbackCall, Mark]] = []
        position = offset
        for line in complete.splitlines(keepends=True):
            position += len(line)
            for call in parse_cdr_lines(line.decode("utf-8", errors="replace")):
                found.append((call, Mark(stat.st_ino, position)))
        return found, Mark(stat.st_ino, offset + len(complete))

    def commit(self, mark: Mark) -> None:
        self.offset_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.offset_file.with_suffix(".new")
        tmp.write_text(f"{mark.inode} {mark.offset}", encoding="utf-8")
        tmp.replace(self.offset_file)

    def ingest(self, journal: Journal, messages: MessageSaver | None = None) -> int:
        """Append the fallback calls found since last time to the journal (with the message each caller
        left, saved through ``messages``); return how many. Blocking: the controller's poller runs the
        same steps with the file and database work in threads (engine.app)."""
        found, end = self.read_new()
        for call, mark in found:
            message = messages.save(call) if messages is not None else None
            for entry in journal_entries(call, message):
                journal.append(entry)
            self.commit(mark)
        if end is not None:
            self.commit(end)
        if found:
            log.info("journaled %d call(s) answered by the fallback while the controller was away", len(found))
        return len(found)
