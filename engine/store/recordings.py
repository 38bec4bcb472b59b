"""Agent call recordings as the journal knows them, and their verified export.

The controller journals a ``recording.saved`` event on the call once a recording is complete (data:
``file``, ``agent``, ``seconds``, ``sha256``; see engine.queueing.recording_files). ``list_recordings`` reads
those events joined with their calls, newest first; ``export_recordings`` copies the files to a folder,
checking each against the checksum journaled when it was saved. Used by ``hotline recordings``
(engine.cli.recordings). Collaborators: engine.store.tables (schema), engine.store.queries (find_call).

The event data is JSON: filters on its fields run in Python, because JSON operators differ between
SQLite and PostgreSQL and the journal must read the same on both.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import Engine, select

from engine.store.queries import find_call
from engine.store.tables import call_events, calls

logger = logging.getLogger(__name__)

RECORDING_SAVED: Final = "recording.saved"
CHUNK: Final = 1 << 20

ExportStatus = Literal["ok", "missing", "checksum-mismatch", "unreadable"]


@dataclass(frozen=True)
class RecordingRow:
    """One saved recording: the call it belongs to, who was recorded, and the file as journaled."""

    call_id: int
    call_uid: str
    caller: str | None
    agent: str
    at: datetime
    file: str
    seconds: float
    sha256: str


@dataclass(frozen=True)
class ExportResult:
    """What happened to one recording during an export; ``exported_as`` is the file name in the folder."""

    recording: RecordingRow
    status: ExportStatus
    exported_as: str | None = None
    problem: str | None = None


def day_bounds(since: date | None, until: date | None, tz: tzinfo) -> tuple[datetime | None, datetime | None]:
    """[start, end) instants for the inclusive days ``since``..``until`` as lived in ``tz``."""
    start = datetime.combine(since, time.min, tzinfo=tz) if since is not None else None
    end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=tz) if until is not None else None
    return start, end


def list_recordings(
    engine: Engine,
    *,
    call: str | None = None,
    agent: str | None = None,
    since: date | None = None,
    until: date | None = None,
    tz: tzinfo,
    limit: int = 100,
) -> list[RecordingRow]:
    """Saved recordings matching every given filter, newest first, at most ``limit``.

    ``call`` is a call id or call_uid (CallNotFound if the journal has no such call); ``since`` and
    ``until`` are inclusive days in ``tz``; ``agent`` is a work number.
    """
    events = call_events
    query = (
        select(events.c.call_id, calls.c.call_uid, calls.c.caller, events.c.at, events.c.data)
        .join(calls, calls.c.id == events.c.call_id)
        .where(events.c.kind == RECORDING_SAVED)
        .order_by(events.c.at.desc(), events.c.id.desc())
    )
    if call is not None:
        query = query.where(events.c.call_id == find_call(engine, call).id)
    start, end = day_bounds(since, until, tz)
    if start is not None:
        query = query.where(events.c.at >= start)
    if end is not None:
        query = query.where(events.c.at < end)
    if agent is None:
        # Only when nothing is filtered in Python may the database cut the list short.
        query = query.limit(limit)
    found: list[RecordingRow] = []
    with engine.connect() as connection:
        for row in connection.execute(query):
            if len(found) >= limit:
                break
            recording = _recording(row.call_id, row.call_uid, row.caller, row.at, row.data)
            if recording is not None and (agent is None or recording.agent == agent):
                found.append(recording)
    return found


def _recording(call_id: int, call_uid: str, caller: str | None, at: datetime, data: Any) -> RecordingRow | None:
    if not isinstance(data, Mapping) or not all(data.get(k) not in (None, "") for k in ("file", "agent", "sha256")):
        # Written by an older or broken controller: show what is usable, never crash the listing.
        logger.warning("call %s has a %s event without file, agent or sha256; skipped", call_id, RECORDING_SAVED)
        return None
    try:
        seconds = float(data.get("seconds") or 0.0)
    except (TypeError, ValueError):
        seconds = 0.0
    return RecordingRow(call_id=call_id, call_uid=call_uid, caller=caller, agent=str(data["agent"]), at=at,
                        file=str(data["file"]), seconds=seconds, sha256=str(data["sha256"]).lower())


def export_recordings(recordings: Iterable[RecordingRow], folder: Path) -> list[ExportResult]:
    """Copy each recording's file into ``folder`` (made 0700 if new), files 0600, checksums verified.

    A missing, unreadable or altered file is reported in its result and leaves nothing behind in
    ``folder``; the other files are still exported. Names are the journaled file names; a name seen
    twice gets the call id in front.
    """
    if not folder.exists():
        folder.mkdir(parents=True)
        folder.chmod(0o700)  # mkdir's mode is cut by the umask; recordings are personal data
    results: list[ExportResult] = []
    used: set[str] = set()
    for recording in recordings:
        name = Path(recording.file).name
        if name in used:
            name = f"{recording.call_id}-{name}"
        used.add(name)
        results.append(_export_one(recording, folder, name))
    return results


def _export_one(recording: RecordingRow, folder: Path, name: str) -> ExportResult:
    source = Path(recording.file)
    target = folder / name
    partial = folder / f".{name}.partial"
    try:
        reader = source.open("rb")
    except FileNotFoundError:
        return ExportResult(recording, "missing", problem=f"file not found: {source}")
    except OSError as exc:
        return ExportResult(recording, "unreadable", problem=f"cannot read {source}: {exc.strerror or exc}")
    digest = hashlib.sha256()
    # Copy and hash in one pass so the file we verified is exactly the file we wrote. Failures to write
    # the folder are not about this recording: they propagate and stop the export.
    partial.unlink(missing_ok=True)
    try:
        with reader, os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != recording.sha256:
        partial.unlink()
        return ExportResult(recording, "checksum-mismatch",
                            problem=f"sha256 of {source} is {digest.hexdigest()}, the journal says {recording.sha256}")
    partial.chmod(0o600)  # os.open's mode is cut by the umask too
    partial.replace(target)
    return ExportResult(recording, "ok", exported_as=name)
