"""Calls that reached the dialplan fallback while no controller was connected, brought into the journal.

The fallback path marks its CDR (userfield ``fallback``); cdr_custom writes every CDR as a CSV line. The
controller reads the lines added since its last look (offset kept in the data folder) at start and
every few seconds, so the journal has no holes even for calls it never saw.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from engine.store.journal import JournalEntry
from engine.store.ports import Journal

log = logging.getLogger(__name__)


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


def journal_entries(call: FallbackCall) -> list[JournalEntry]:
    entries = [JournalEntry(call.uid, "call.started", call.started_at,
                            {"caller": call.caller, "dialed": call.dialed, "source": "fallback"})]
    if call.answered_at is not None:
        entries.append(JournalEntry(call.uid, "call.answered", call.answered_at, {}))
        entries.append(JournalEntry(call.uid, "prompt.played", call.answered_at, {"prompt": "apology"}))
    entries.append(JournalEntry(call.uid, "call.ended", call.ended_at,
                                {"outcome": "fallback", "cause": call.disposition.lower().replace(" ", "_")}))
    return entries


class FallbackCdrReader:
    """Reads new complete lines of the CDR file, remembering where it stopped."""

    def __init__(self, cdr_file: Path, offset_file: Path) -> None:
        self.cdr_file = cdr_file
        self.offset_file = offset_file

    def _load_offset(self) -> tuple[int, int]:
        try:
            inode, offset = self.offset_file.read_text(encoding="utf-8").split()
            return int(inode), int(offset)
        except (FileNotFoundError, ValueError):
            return 0, 0

    def ingest(self, journal: Journal) -> int:
        """Append the fallback calls found since last time to the journal; return how many."""
        try:
            stat = self.cdr_file.stat()
        except FileNotFoundError:
            return 0
        inode, offset = self._load_offset()
        if inode != stat.st_ino or offset > stat.st_size:
            offset = 0  # rotated or truncated: read the new file from its start
        with open(self.cdr_file, "rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a half-written last line waits for the next look
        calls = list(parse_cdr_lines(complete.decode("utf-8", errors="replace")))
        for call in calls:
            for entry in journal_entries(call):
                journal.append(entry)
        self.offset_file.parent.mkdir(parents=True, exist_ok=True)
        self.offset_file.write_text(f"{stat.st_ino} {offset + len(complete)}", encoding="utf-8")
        if calls:
            log.info("journaled %d call(s) answered by the fallback while the controller was away", len(calls))
        return len(calls)
