"""The journal writer: call handling appends entries, a background task writes them to the database.

Call handling must never wait on the database, so ``JournalWriter.append`` only buffers. ``run()``
drains the buffer in batches, one transaction each, in a worker thread. With a write-ahead file, each
entry is also appended to it as it comes (one ``write`` call, kept by the kernel when the process is
killed), so the writer may linger a moment after the first entry and commit what came meanwhile in one
transaction (a transaction per entry was most of the writer's CPU); the next run's writer replays the file,
skipping what was committed. Like SQLite's WAL at ``synchronous=NORMAL``, the file is not flushed to disk:
it survives a killed process, not a power cut. When the database is away it
logs one warning, moves the buffer to a JSON-lines spill file and appends every later entry there as it
comes (so a controller killed during the outage loses nothing), and retries with capped exponential
backoff by replaying the file. A replay skips entries the database already holds (same call or agent,
kind and time), so an entry is written once even when a replay's commit and the file's removal are cut
apart by a crash. ``close()`` makes a last attempt and leaves the file for the next ``run()``.

Every entry becomes a ``call_events`` row (seq 1, 2, 3.. per call, in append order); a few kinds also
update the ``calls`` projection (see ``_project``); a call's end fills its disposition and report facts and
an agent's state change adds the span it closes to the report rollups (engine.reports.projection). A batch
costs a fixed handful of statements, not a few per call, and none to find a call it already wrote to
(engine.store.open_calls). Collaborators: engine.store.tables (schema), engine.store.database (engines,
failure messages), engine.masking (caller numbers in logs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from sqlalchemy import Column, Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError

from engine.clock import Clock, SystemClock
from engine.masking import mask_number
from engine.reports.disposition import Event
from engine.reports.projection import AgentChange, link_callers, project_dispositions, roll_up_agents
from engine.store.agent_journal_tables import agent_events
from engine.store.database import display_url, failure_reason, make_engine, unreachable
from engine.store.open_calls import HISTORY_LIMIT, OpenCalls, Position
from engine.store.tables import SOURCES, call_events, calls

# Journal entries of agents carry this prefix instead of a call's unique id.
AGENT_PREFIX = "agent:"
logger = logging.getLogger(__name__)

CALL_STARTED: Final = "call.started"
CALL_ANSWERED: Final = "call.answered"
CALL_ENDED: Final = "call.ended"

BATCH_SIZE: Final = 500
CHUNK: Final = 500
FIRST_BACKOFF: Final = 0.2
MAX_BACKOFF: Final = 5.0

# Errors that a given entry will cause again on every retry, unlike an unreachable database.
_ENTRY_ERRORS: Final = (IntegrityError, DataError)


@dataclass(frozen=True)
class JournalEntry:
    """One thing that happened to a call. ``at`` must be timezone-aware; ``data`` JSON-ready."""

    call_uid: str
    kind: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not self.call_uid or len(self.call_uid) > 64:
            raise ValueError(f"call_uid must be 1-64 characters, got {self.call_uid!r}")
        if not self.kind or len(self.kind) > 48:
            raise ValueError(f"kind must be 1-48 characters, got {self.kind!r}")
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"journal entry {self.kind} has a naive timestamp {self.at!r}")

    def to_json(self) -> str:
        """One spill-file line."""
        record = {
            "call_uid": self.call_uid,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "data": dict(self.data),
        }
        return json.dumps(record, ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, line: str) -> JournalEntry:
        record = json.loads(line)
        return cls(
            call_uid=record["call_uid"],
            kind=record["kind"],
            at=datetime.fromisoformat(record["at"]),
            data=record.get("data") or {},
        )


def _detached(entry: JournalEntry) -> JournalEntry:
    # A private JSON-ready copy: the caller may mutate its dict later, and a value json cannot encode
    # must not poison a whole batch in the worker thread.
    try:
        data = _plain_copy(entry.data)
    except _NotPlain:
        data = json.loads(json.dumps(dict(entry.data), default=str))
    return replace(entry, data=data)


class _NotPlain(Exception):
    pass


def _plain_copy(value: Any) -> Any:
    """A deep copy of data made only of what JSON holds as is (str-keyed dicts, lists, str, int, float,
    bool, None), else ``_NotPlain``. What nearly every entry carries: copied without the JSON round trip,
    which was a twentieth of the controller's CPU."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict or isinstance(value, Mapping):
        if not all(type(key) is str for key in value):
            raise _NotPlain
        return {key: _plain_copy(item) for key, item in value.items()}
    if kind is list:
        return [_plain_copy(item) for item in value]
    raise _NotPlain


class JournalWriter:
    """Buffers journal entries and writes them in the background; see the module docstring.

    ``append`` must be called from the event loop's thread. Start ``run()`` as a supervised task and
    ``await close()`` at shutdown; ``close()`` also stops ``run()``.
    """

    def __init__(
        self,
        url: str,
        spill_path: Path,
        clock: Clock | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        ahead_path: Path | None = None,
        linger_s: float = 0.0,
    ) -> None:
        if linger_s > 0 and ahead_path is None:
            raise ValueError("a journal writer may only linger with a write-ahead file: a killed controller "
                             "would lose the entries held back")
        self._url = url
        self._shown_url = display_url(url)
        self._engine = make_engine(url)
        self._spill_path = spill_path
        self._clock: Clock = clock or SystemClock()
        self._batch_size = batch_size
        self._pending: deque[JournalEntry] = deque()
        # Taken from _pending, not yet committed; only the DB job running right now touches it.
        self._inflight: list[JournalEntry] = []
        self._jobs: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._running = False
        self._run_done = asyncio.Event()
        self._run_done.set()
        self._closed = False
        self._outage_since: datetime | None = None
        # During an outage new entries go straight to the spill file; this many are in it right now.
        self._spilling = False
        self._spilled = 0
        self._backoff = FIRST_BACKOFF
        # Each agent's latest state as committed (read from the database the first time an agent shows up).
        self._agents_last: dict[str, AgentChange] = {}
        # Each open call's row id and last seq as committed, so a batch need not look them up again.
        self._open_calls = OpenCalls()
        self._linger_s = linger_s
        self._replayed = asyncio.Event()
        self._ahead_path = ahead_path
        self._ahead_fd: int | None = None
        self._ahead_failed = False
        if ahead_path is not None:
            # An earlier run's entries join the spill file, which run() replays first.
            self._take_over_ahead(ahead_path)
            self._ahead_fd = os.open(ahead_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    @property
    def spill_path(self) -> Path:
        return self._spill_path

    @property
    def pending(self) -> int:
        """Entries appended but not yet committed."""
        return len(self._pending) + len(self._inflight) + self._spilled

    def append(self, entry: JournalEntry) -> None:
        """Queue ``entry`` for writing. Never blocks on the database and never raises."""
        try:
            detached = _detached(entry)
            if self._closed:
                logger.warning("journal is closed; spilling %s for call %s", entry.kind, entry.call_uid)
                self._spill([detached])
                return
            if self._spilling:
                self._spill([detached])
                self._spilled += 1
                self._idle.clear()
                return
            self._pending.append(detached)
            self._write_ahead([detached])
            self._idle.clear()
            self._wakeup.set()
        except Exception:
            logger.exception("could not journal %s for call %s", entry.kind, entry.call_uid)

    async def wait_idle(self) -> None:
        """Return once everything appended so far is committed (needs ``run()`` to be running)."""
        await self._idle.wait()

    async def wait_replayed(self) -> None:
        """Return once what an earlier run left unwritten (spill and write-ahead files) is in the database:
        before that, the database may show a call open that the earlier run saw end."""
        await self._replayed.wait()

    async def run(self) -> None:
        """Replay a spill file left by an earlier run, then write entries as they come until closed."""
        if self._running or self._closed:
            raise RuntimeError("JournalWriter.run() is already running or the writer is closed")
        self._running = True
        self._run_done.clear()
        try:
            self._spilling = self._spill_path.exists()
            while not self._stopping.is_set():
                self._wakeup.clear()
                if not await self._retrying(self._catch_up):
                    return
                self._replayed.set()
                if not self.pending:
                    self._clear_ahead()
                    self._idle.set()
                await self._first_of(self._wakeup.wait())
                if self._linger_s and len(self._pending) < self._batch_size:
                    # Entries that come meanwhile share the transaction (they are in the write-ahead file).
                    await self._first_of(self._clock.sleep(self._linger_s))
        finally:
            self._running = False
            self._run_done.set()

    async def close(self) -> None:
        """Stop ``run()``, write what is left in one last attempt and spill anything that still fails."""
        if self._closed:
            return
        self._stopping.set()
        await self._run_done.wait()
        if self._jobs:
            # A batch in flight (run() may have been cancelled) can still commit: wait, don't guess.
            await asyncio.wait(set(self._jobs))
        try:
            # Older spilled entries first (run() may have stopped before replaying them), then the buffer.
            await self._catch_up()
            self._clear_ahead()
        except Exception as exc:
            leftover = [*self._inflight, *self._pending]
            self._inflight.clear()
            self._pending.clear()
            logger.warning(
                "journal database %s is unreachable at shutdown (%s); %d entries are in %s",
                self._shown_url,
                failure_reason(exc),
                len(leftover) + self._spilled,
                self._spill_path,
            )
            if await asyncio.to_thread(self._spill, leftover):
                self._clear_ahead()  # all it held is committed or in the spill file now
        finally:
            self._close_ahead()
            self._closed = True
            self._idle.set()
            await asyncio.to_thread(self._engine.dispose)

    def replay_spill(self) -> int:
        """Write the spill file's entries to the database, then remove the file.

        Synchronous: it blocks on the database, so async code runs it in a thread. Returns how many entries
        the file held. Entries the database already holds are skipped; an entry it refuses (bad data) is set
        aside in ``<name>.rejected`` and logged as an ERROR, the others written, as ``run()``'s replay does.
        Raises DatabaseUnreachable and keeps the file when the database cannot take them.
        """
        try:
            return self._replay_spill()
        except SQLAlchemyError as exc:
            raise unreachable(self._url, exc) from None

    def _replay_spill(self) -> int:
        path = self._spill_path
        if not path.exists():
            return 0
        replayed = self._replay_prefix(path.stat().st_size)
        path.unlink()
        return replayed

    # -- the background loop ---------------------------------------------------------------------

    async def _retrying(self, step: Callable[[], Awaitable[None]]) -> bool:
        """Run ``step`` until it succeeds (True) or the writer is stopping (False)."""
        while True:
            try:
                await step()
            except Exception as exc:
                if self._outage_since is None:
                    self._outage_since = self._clock.now()
                    logger.warning(
                        "journal database %s is unreachable (%s); spilling %d entries and the ones to come to %s"
                        " and retrying",
                        self._shown_url,
                        failure_reason(exc),
                        self.pending,
                        self._spill_path,
                    )
                    if not self._jobs:
                        self._start_spilling()
                else:
                    logger.debug("journal write failed again: %s", failure_reason(exc))
                await self._first_of(self._clock.sleep(random.uniform(self._backoff / 2, self._backoff)))
                self._backoff = min(self._backoff * 2, MAX_BACKOFF)
                if self._stopping.is_set():
                    return False
                continue
            if self._outage_since is not None:
                down_for = (self._clock.now() - self._outage_since).total_seconds()
                logger.info("journal database %s is back after %.1f s", self._shown_url, down_for)
                self._outage_since = None
            self._backoff = FIRST_BACKOFF
            return True

    async def _first_of(self, waiting: Coroutine[Any, Any, Any]) -> None:
        """Await ``waiting`` unless the writer starts stopping first."""
        waiter = asyncio.ensure_future(waiting)
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, stopper):
                task.cancel()
            await asyncio.gather(waiter, stopper, return_exceptions=True)

    async def _flush(self) -> None:
        """One attempt to commit everything buffered; raises (keeping the entries) on failure."""
        while self._inflight or self._pending:
            if not self._inflight:
                count = min(self._batch_size, len(self._pending))
                self._inflight = [self._pending.popleft() for _ in range(count)]
            await self._shielded(self._commit_inflight())

    async def _shielded(self, job: Coroutine[Any, Any, None]) -> None:
        # Cancelling run() must not leave us unsure whether a batch was committed: the job finishes
        # (and does its bookkeeping) on its own, and close() waits for it.
        task = asyncio.ensure_future(job)
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        await asyncio.shield(task)

    async def _catch_up(self) -> None:
        """Replay the spill file if entries went there, then commit the buffer; raises on failure."""
        if self._spilling and not self._jobs:
            await self._shielded(self._replay_spilled())
        await self._flush()

    def _start_spilling(self) -> None:
        # Buffered entries are older than anything appended from now on: they go first in the file.
        held = [*self._inflight, *self._pending]
        self._inflight.clear()
        self._pending.clear()
        if self._spill(held):
            self._clear_ahead()  # what it held is committed or spilled; appends go to the spill file now
        self._spilled += len(held)
        self._spilling = True

    async def _replay_spilled(self) -> None:
        """Write the spill file's entries, then take back to the buffer what was appended meanwhile.

        ``append`` keeps adding to the file while the worker thread writes what was there when the
        replay began; both run on the event loop's thread between awaits, so the size taken here is
        at a line boundary and the lines after it are the newer ones.
        """
        path = self._spill_path
        if not path.exists():
            self._spilling, self._spilled = False, 0
            return
        size = path.stat().st_size
        await asyncio.to_thread(self._replay_prefix, size)
        newer = list(self._parse_spill(path.read_bytes()[size:].decode("utf-8"), path))
        # Back to the buffer, so into the write-ahead file before they leave the spill file (a crash between
        # the two leaves them in both: the next run's take-over keeps one).
        self._write_ahead(newer)
        path.unlink()
        self._pending.extendleft(reversed(newer))
        self._spilling, self._spilled = False, 0

    def _replay_prefix(self, size: int) -> int:
        """Write the entries of the spill file's first ``size`` bytes; returns how many there were."""
        path = self._spill_path
        with path.open("rb") as spilled:
            text = spilled.read(size).decode("utf-8")
        entries = list(self._parse_spill(text, path))
        try:
            self._write(entries, skip_written=True)
        except _ENTRY_ERRORS:
            # Some entry is refused: write the others one by one and set the refused ones aside.
            for entry in entries:
                error = self._write_single(entry, skip_written=True)
                if error is not None:
                    self._reject(entry, error)
        logger.info("replayed %d journal entries from %s", len(entries), path)
        return len(entries)

    async def _commit_inflight(self) -> None:
        batch = list(self._inflight)
        try:
            await asyncio.to_thread(self._write, batch)
        except _ENTRY_ERRORS:
            await self._commit_one_by_one()
            return
        del self._inflight[: len(batch)]

    async def _commit_one_by_one(self) -> None:
        # Some entry in the batch is refused: find it without holding back the others.
        while self._inflight:
            entry = self._inflight[0]
            error = await asyncio.to_thread(self._write_single, entry)
            if error is not None:
                await asyncio.to_thread(self._reject, entry, error)
            self._inflight.pop(0)

    # -- worker-thread side --------------------------------------------------------------------

    def _write(self, entries: Sequence[JournalEntry], *, skip_written: bool = False) -> None:
        if not entries:
            return
        agents_last = dict(self._agents_last)
        try:
            with self._engine.begin() as connection:
                if skip_written:
                    entries = _not_yet_written(connection, entries)
                positions = _apply(connection, entries, agents_last, self._open_calls)
        except Exception:
            # Not committed, or not surely (a commit cut off), or refused because someone else appended to a
            # call we keep (a stale seq): look every call up again rather than trust what is kept.
            self._open_calls.clear()
            raise
        # Only once committed: a failed batch is written again.
        self._agents_last = agents_last
        self._open_calls.commit(positions)

    def _write_single(self, entry: JournalEntry, *, skip_written: bool = False) -> BaseException | None:
        error: BaseException | None = None
        # Twice: a concurrent writer (e.g. the fallback path) may have raced us for the same call.
        for _ in range(2):
            try:
                self._write([entry], skip_written=skip_written)
            except _ENTRY_ERRORS as exc:
                error = exc
            else:
                return None
        return error

    # -- the write-ahead file (event loop's thread) -----------------------------------------------

    def _write_ahead(self, entries: Sequence[JournalEntry]) -> None:
        if self._ahead_fd is None or not entries:
            return
        try:
            os.write(self._ahead_fd, "".join(entry.to_json() + "\n" for entry in entries).encode("utf-8"))
        except OSError as exc:
            if not self._ahead_failed:
                # The entries are still buffered and written; only a crash before that would lose them.
                logger.error("could not write ahead to %s (%s); a crash now would lose the unwritten entries",
                             self._ahead_path, exc)
            self._ahead_failed = True
            return
        self._ahead_failed = False

    def _clear_ahead(self) -> None:
        """Empty the write-ahead file: everything it holds is committed (or in the spill file)."""
        if self._ahead_fd is None:
            return
        try:
            os.ftruncate(self._ahead_fd, 0)
        except OSError as exc:
            logger.warning("could not empty %s (%s); the next start replays it, skipping what is written",
                           self._ahead_path, exc)

    def _close_ahead(self) -> None:
        if self._ahead_fd is None:
            return
        os.close(self._ahead_fd)
        self._ahead_fd = None
        assert self._ahead_path is not None
        with contextlib.suppress(FileNotFoundError):
            if self._ahead_path.stat().st_size == 0:
                self._ahead_path.unlink()

    def _take_over_ahead(self, ahead: Path) -> None:
        """Move an earlier run's write-ahead file into the spill file; lines the spill file already has
        (written to both just before a crash) are kept once."""
        try:
            text = ahead.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        lines = [line for line in text.splitlines() if line.strip()]
        if lines:
            logger.info("journal: %d entries of the last run may not be written yet; replaying them from %s",
                        len(lines), self._spill_path)
            if not self._spill_path.exists():
                self._spill_path.parent.mkdir(parents=True, exist_ok=True)
                os.replace(ahead, self._spill_path)
                return
            held = set(self._spill_path.read_text(encoding="utf-8").splitlines())
            with self._spill_path.open("a", encoding="utf-8") as out:
                out.writelines(line + "\n" for line in lines if line not in held)
        ahead.unlink()

    def _spill(self, entries: Sequence[JournalEntry]) -> bool:
        """Append ``entries`` to the spill file; False (logged) when they could not be."""
        if not entries:
            return True
        try:
            self._spill_path.parent.mkdir(parents=True, exist_ok=True)
            with self._spill_path.open("a", encoding="utf-8") as out:
                out.writelines(entry.to_json() + "\n" for entry in entries)
        except OSError as exc:
            logger.error("could not spill %d journal entries to %s: %s", len(entries), self._spill_path, exc)
            return False
        return True

    def _rejected_path(self) -> Path:
        return self._spill_path.with_name(self._spill_path.name + ".rejected")

    def _reject(self, entry: JournalEntry, error: BaseException) -> None:
        rejected = self._rejected_path()
        logger.error(
            "journal database refused %s for call %s (%s); kept in %s",
            entry.kind,
            entry.call_uid,
            failure_reason(error),
            rejected,
        )
        try:
            rejected.parent.mkdir(parents=True, exist_ok=True)
            with rejected.open("a", encoding="utf-8") as out:
                out.write(entry.to_json() + "\n")
        except OSError as exc:
            logger.error("could not write %s: %s", rejected, exc)

    @staticmethod
    def _parse_spill(text: str, path: Path) -> Iterable[JournalEntry]:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                yield JournalEntry.from_json(line)
            except (ValueError, KeyError, TypeError) as exc:
                logger.error("skipping unreadable line %d of %s: %s", number, path, exc)


# -- projection: entries -> rows, inside one transaction ---------------------------------------

# Keeps statements per batch constant (PostgreSQL pays a round trip for each): the calls the writer does not
# keep (engine.store.open_calls) are found in one SELECT, the missing ones inserted in one INSERT, their last
# seq read in one SELECT, the projection updated with one executemany per kind, and all events inserted in one
# INSERT. A batch of calls the writer already wrote to skips the SELECTs.


def _not_yet_written(connection: Connection, entries: Sequence[JournalEntry]) -> list[JournalEntry]:
    """``entries`` less those the database already holds: same call (or agent), kind and time.

    Only a replay pays for this look-up; counted, so two equal entries of which one is written keep one.
    """
    held: Counter[tuple[str, str, datetime]] = Counter()
    uids = list(dict.fromkeys(e.call_uid for e in entries if not e.call_uid.startswith(AGENT_PREFIX)))
    for first in range(0, len(uids), CHUNK):
        query = (select(calls.c.call_uid, call_events.c.kind, call_events.c.at)
                 .join(calls, calls.c.id == call_events.c.call_id)
                 .where(calls.c.call_uid.in_(uids[first:first + CHUNK])))
        held.update((str(uid), str(kind), _utc(when)) for uid, kind, when in connection.execute(query))
    agents = list(dict.fromkeys(e.call_uid.removeprefix(AGENT_PREFIX) for e in entries
                                if e.call_uid.startswith(AGENT_PREFIX)))
    for first in range(0, len(agents), CHUNK):
        query = (select(agent_events.c.agent, agent_events.c.to_state, agent_events.c.at)
                 .where(agent_events.c.agent.in_(agents[first:first + CHUNK])))
        held.update((AGENT_PREFIX + str(agent), str(state), _utc(when))
                    for agent, state, when in connection.execute(query))
    fresh: list[JournalEntry] = []
    for entry in entries:
        kind = str(entry.data.get("to", "")) if entry.call_uid.startswith(AGENT_PREFIX) else entry.kind
        key = (entry.call_uid, kind, _utc(entry.at))
        if held[key] > 0:
            held[key] -= 1
        else:
            fresh.append(entry)
    skipped = len(entries) - len(fresh)
    if skipped:
        logger.info("journal replay: %d of %d entries were already written; skipped", skipped, len(entries))
    return fresh


# Built once: SQLAlchemy keeps a statement object's cache key, so executing the same object again skips
# building the expression and working out its key (a fifth of the writer's CPU when built per batch).
_row = calls.c
_FILL_STARTED: Final = (update(calls).where(_row.id == bindparam("call"))
                        .values(caller=func.coalesce(_row.caller, bindparam("caller")),
                                dialed=func.coalesce(_row.dialed, bindparam("dialed"))))
_MARK_ANSWERED: Final = (update(calls).where(_row.id == bindparam("call"), _row.answered_at.is_(None))
                         .values(answered_at=bindparam("at")))
_MARK_ENDED: Final = (update(calls).where(_row.id == bindparam("call"), _row.ended_at.is_(None))
                      .values(ended_at=bindparam("at"), outcome=bindparam("outcome"), hangup_cause=bindparam("cause")))
_INSERT_EVENT: Final = insert(call_events)
_INSERT_AGENT_EVENT: Final = insert(agent_events)
_INSERT_CALLS: Final = insert(calls).returning(_row.call_uid, _row.id)
_FIND_CALLS: Final = select(_row.call_uid, _row.id).where(_row.call_uid.in_(bindparam("uids", expanding=True)))
_LAST_SEQS: Final = (select(call_events.c.call_id, func.max(call_events.c.seq))
                     .where(call_events.c.call_id.in_(bindparam("ids", expanding=True)))
                     .group_by(call_events.c.call_id))


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def _apply(connection: Connection, entries: Sequence[JournalEntry], agents_last: dict[str, AgentChange],
           open_calls: OpenCalls) -> dict[str, Position | None]:
    """Append ``entries`` to call_events and update the calls projection, in order.

    Entries of agents (``agent:<work number>``) go to agent_events instead: they belong to no call; the
    spans they close go to the agent_time rollup (``agents_last``: each agent's state before the batch,
    updated in place). Returns each call's position after the batch (None: it ended), for ``open_calls``
    once the transaction is committed.
    """
    positions: dict[str, Position | None] = {}
    call_entries = [e for e in entries if not e.call_uid.startswith(AGENT_PREFIX)]
    if call_entries:
        positions = _apply_calls(connection, call_entries, open_calls)
    agent_entries = [e for e in entries if e.call_uid.startswith(AGENT_PREFIX)]
    if agent_entries:
        changes = [(e.call_uid.removeprefix(AGENT_PREFIX), _agent_change(e)) for e in agent_entries]
        roll_up_agents(connection, changes, agents_last)
        connection.execute(_INSERT_AGENT_EVENT, [_agent_row(e) for e in agent_entries])
    return positions


def _apply_calls(connection: Connection, entries: Sequence[JournalEntry],
                 open_calls: OpenCalls) -> dict[str, Position | None]:
    uids = list(dict.fromkeys(e.call_uid for e in entries))
    kept = open_calls.known(uids)
    ids = {uid: position.call_id for uid, position in kept.items()}
    seqs = {position.call_id: position.last_seq for position in kept.values()}
    # Only the calls the writer does not keep are looked up: new ones, and any after a restart or an end.
    unknown = [uid for uid in uids if uid not in kept]
    found = _find_calls(connection, unknown)
    ids.update(found)
    first_entry: dict[str, JournalEntry] = {}
    for entry in entries:
        first_entry.setdefault(entry.call_uid, entry)
    created = [first_entry[uid] for uid in uids if uid not in ids]
    if created:
        ids.update(_insert_calls(connection, created))
    seqs.update(_last_seqs(connection, list(found.values())))
    skip = {id(entry) for entry in created if entry.kind == CALL_STARTED}
    histories = _histories(uids, kept, [entry for entry in created if id(entry) in skip])
    started: dict[int, dict[str, Any]] = {}
    answered: dict[int, dict[str, Any]] = {}
    ended: dict[int, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for entry in entries:
        call_id = ids[entry.call_uid]
        if id(entry) not in skip:
            _project(call_id, entry, started, answered, ended)
        seq = seqs[call_id] = seqs.get(call_id, 0) + 1
        rows.append({"call_id": call_id, "seq": seq, "at": entry.at, "kind": entry.kind, "data": entry.data})
        if (history := histories.get(entry.call_uid)) is not None:
            history[1].append((entry.kind, entry.at, entry.data))
    if started:
        connection.execute(_FILL_STARTED, list(started.values()))
    if answered:
        connection.execute(_MARK_ANSWERED, list(answered.values()))
    if ended:
        connection.execute(_MARK_ENDED, list(ended.values()))
    connection.execute(_INSERT_EVENT, rows)
    project_dispositions(connection, ended, known={ids[uid]: history for uid, history in histories.items()
                                                   if ids[uid] in ended})
    positions: dict[str, Position | None] = {}
    for uid in uids:
        history = histories.get(uid)
        if history is not None and len(history[1]) <= HISTORY_LIMIT:
            positions[uid] = Position(ids[uid], seqs.get(ids[uid], 0), history[0], tuple(history[1]))
        else:
            positions[uid] = Position(ids[uid], seqs.get(ids[uid], 0))
    for entry in entries:
        if entry.kind == CALL_ENDED:
            # Its last entry as a rule: forget it (anything later is looked up again).
            positions[entry.call_uid] = None
    return positions


def _histories(uids: Sequence[str], kept: Mapping[str, Position],
               started_here: Sequence[JournalEntry]) -> dict[str, tuple[datetime, list[Event]]]:
    """The start and committed events of the calls whose every event this writer saw (started in this batch,
    or kept with their history), as new lists: the batch may still be rolled back."""
    histories: dict[str, tuple[datetime, list[Event]]] = {entry.call_uid: (entry.at, []) for entry in started_here}
    for uid in uids:
        position = kept.get(uid)
        if position is not None and position.history is not None and position.started_at is not None:
            histories[uid] = (position.started_at, list(position.history))
    return histories


def _agent_change(entry: JournalEntry) -> AgentChange:
    call = entry.data.get("call")
    return AgentChange(entry.at, str(entry.data.get("to", "")), None if call is None else str(call))


def _agent_row(entry: JournalEntry) -> dict[str, Any]:
    data = entry.data
    return {"agent": entry.call_uid.removeprefix(AGENT_PREFIX), "at": entry.at,
            "from_state": str(data.get("from", "")), "to_state": str(data.get("to", "")),
            # The column holds 64 characters; PostgreSQL would refuse a longer reason and lose the row.
            "reason": None if data.get("reason") is None else str(data["reason"])[:64], "call_uid": data.get("call")}


def _find_calls(connection: Connection, uids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for first in range(0, len(uids), CHUNK):
        rows = connection.execute(_FIND_CALLS, {"uids": list(uids[first:first + CHUNK])})
        found.update((str(uid), int(call_id)) for uid, call_id in rows)
    return found


def _insert_calls(connection: Connection, firsts: Sequence[JournalEntry]) -> dict[str, int]:
    rows: list[dict[str, Any]] = []
    for entry in firsts:
        if entry.kind == CALL_STARTED:
            values = _started_values(entry)
            logger.debug("journal: call %s from %s started", entry.call_uid, mask_number(values["caller"]))
        else:
            # Nothing is lost if call.started never made it: later events still get a row to hang on.
            values = {"caller": None, "dialed": None, "source": "controller"}
            logger.debug("journal: %s for unknown call %s; adding a placeholder row", entry.kind, entry.call_uid)
        rows.append({"call_uid": entry.call_uid, "started_at": entry.at, "previous_gap_s": None,
                     "next_gap_s": None, **values})
    inbound = [(i, row["caller"], row["started_at"]) for i, row in enumerate(rows)
               if row["caller"] and row["source"] != "callback"]
    if inbound:
        for i, gaps in link_callers(connection, inbound).items():
            rows[i].update(gaps)
    inserted = connection.execute(_INSERT_CALLS, rows)
    return {str(uid): int(call_id) for uid, call_id in inserted}


def _last_seqs(connection: Connection, call_ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for first in range(0, len(call_ids), CHUNK):
        rows = connection.execute(_LAST_SEQS, {"ids": list(call_ids[first:first + CHUNK])})
        found.update((int(call_id), int(seq)) for call_id, seq in rows)
    return found


def _project(call_id: int, entry: JournalEntry, started: dict[int, dict[str, Any]],
             answered: dict[int, dict[str, Any]], ended: dict[int, dict[str, Any]]) -> None:
    """Collect the calls row updates of one entry; first answer and first end win."""
    if entry.kind == CALL_STARTED:
        # A re-adopted call keeps its row; only fill what an earlier placeholder did not know.
        values = _started_values(entry)
        known = started.setdefault(call_id, {"call": call_id, "caller": None, "dialed": None})
        known["caller"] = known["caller"] or values["caller"]
        known["dialed"] = known["dialed"] or values["dialed"]
    elif entry.kind == CALL_ANSWERED:
        answered.setdefault(call_id, {"call": call_id, "at": entry.at})
    elif entry.kind == CALL_ENDED:
        ended.setdefault(call_id, {"call": call_id, "at": entry.at,
                                   "outcome": _fit(entry.data.get("outcome"), calls.c.outcome),
                                   "cause": _fit(entry.data.get("cause"), calls.c.hangup_cause)})


def _started_values(entry: JournalEntry) -> dict[str, Any]:
    source = entry.data.get("source") or "controller"
    if source not in SOURCES:
        logger.warning(
            "journal: call %s has unknown source %r; recorded as controller", entry.call_uid, source
        )
        source = "controller"
    return {
        "caller": _fit(entry.data.get("caller"), calls.c.caller),
        "dialed": _fit(entry.data.get("dialed"), calls.c.dialed),
        "source": source,
    }


def _fit(value: object, column: Column[Any]) -> str | None:
    # PostgreSQL refuses over-long strings; a truncated number beats a lost call record.
    if value is None:
        return None
    length: int | None = getattr(column.type, "length", None)
    text = str(value)
    return text[:length] if length else text
