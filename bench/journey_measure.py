"""What a journey step cost and how it felt, from the processes and the journal; pure parts tested alone.

- **CPU**: ``utime + stime`` of a process from ``/proc/<pid>/stat`` (clock ticks), read before and after a
  step (``cpu_seconds``); Asterisk's pid from its pid file in the instance's run folder.
- **Journal** (hotline path only): the calls started in the step's window and their events (``JourneyFacts``):
  calls that reached an agent (``queue.answered``), rows written, queue wait (``queue.entered`` to
  ``queue.answered``), ring to answer (``queue.offered`` to ``queue.answered``), key to next prompt (an
  ``ivr.digits`` event to the start of the next ``prompt.played``, i.e. its time minus its ``ms``), answer to
  greeting (``call.started``, stamped by Asterisk at StasisStart just after the dialplan's Answer, to the
  start of the first ``prompt.played``).
  These are the controller's own clock readings: the key's time is when the controller handled the key, so
  the figure leaves out the key's way from SIPp to the controller. Password checks: ``password.checked``
  events that ran the hash (not those a call ``remembered``).
- **A password check's CPU** (``password_check_cpu_s``): the hash check the controller runs, timed in
  this process on the same box (process CPU, median of a few), so a step's controller CPU can be told with
  and without its checks.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from engine.selfservice.password_key import PasswordKey
from engine.selfservice.passwords import hash_password, verify_password
from engine.store.tables import call_events, calls

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU seconds a process has used so far; None when it is gone or unknown."""
    if pid is None:
        return None
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # fields 14 and 15 of stat(5), after pid and comm


def proc_stat() -> str:
    """/proc/stat's text, read once for both `box_ticks` and `steal_ticks` of one moment."""
    return Path("/proc/stat").read_text()


def box_ticks(stat: str | None = None) -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole box so far, from the ``cpu`` line of /proc/stat (``stat``: its
    text, read when not given); idle and iowait are the not-busy ticks."""
    text = proc_stat() if stat is None else stat
    ticks = [int(field) for field in text.splitlines()[0].split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return sum(ticks) - idle, sum(ticks)


def steal_ticks(stat: str | None = None) -> int:
    """CPU ticks the hypervisor gave to other guests so far (the ``cpu`` line's 8th figure; 0 when absent):
    counted busy by `box_ticks`, though none of this box's processes ran."""
    text = proc_stat() if stat is None else stat
    ticks = text.splitlines()[0].split()[1:]
    return int(ticks[7]) if len(ticks) > 7 else 0


def cpu_pressure_us(text: str | None = None) -> int | None:
    """Microseconds so far in which some runnable task of the box waited for a CPU (the ``some`` line's
    ``total`` of /proc/pressure/cpu, Linux PSI); None where the kernel does not give it. Busy shares average
    over a step; this sees the bursts in which the cores were all taken."""
    try:
        text = Path("/proc/pressure/cpu").read_text() if text is None else text
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("some "):
            fields = dict(field.split("=", 1) for field in line.split()[1:])
            return int(fields["total"])
    return None


def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    """The share of the box's CPU time that was busy between two `box_ticks` readings (0..1)."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def pid_from_file(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class Event:
    call_id: int
    kind: str
    at: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class JourneyFacts:
    calls: int
    reached_agent: int
    rows: int
    queue_wait_s: list[float]
    ring_answer_s: list[float]
    key_prompt_ms: list[float]
    password_checks: int = 0
    # key_prompt_ms in two: the keys that ended a service password (their prompt waited for its check), the others.
    password_key_prompt_ms: list[float] = field(default_factory=list)
    other_key_prompt_ms: list[float] = field(default_factory=list)
    recorded: int = 0
    # The call's start (StasisStart, Asterisk's clock: after the dialplan answered) to its first prompt's start.
    greeting_ms: list[float] = field(default_factory=list)


def facts(events: Iterable[Event], call_ids: Sequence[int]) -> JourneyFacts:
    """The journey figures of the calls ``call_ids`` from their events (any order)."""
    by_call: dict[int, list[Event]] = {c: [] for c in call_ids}
    rows = 0
    for event in events:
        if event.call_id in by_call:
            by_call[event.call_id].append(event)
            rows += 1
    waits: list[float] = []
    rings: list[float] = []
    keys: list[float] = []
    reached = 0
    recorded = 0
    checks = 0
    password_keys: list[float] = []
    other_keys: list[float] = []
    greetings: list[float] = []
    for evts in by_call.values():
        evts.sort(key=lambda e: e.at)
        entered = offered = None
        pending_key: datetime | None = None
        checked = False  # a password check between the pending key and its prompt
        answered = False
        started: datetime | None = None
        for e in evts:
            if e.kind == "call.started":
                started = e.at
            elif e.kind == "queue.entered" and entered is None:
                entered = e.at
            elif e.kind == "queue.offered":
                offered = e.at
            elif e.kind == "queue.answered" and not answered:
                answered = True
                if entered is not None:
                    waits.append((e.at - entered).total_seconds())
                if offered is not None:
                    rings.append((e.at - offered).total_seconds())
            elif e.kind == "password.checked" and not e.data.get("remembered"):
                checks += 1
                checked = pending_key is not None
            elif e.kind == "ivr.digits":
                pending_key = e.at if pending_key is None else pending_key
            elif e.kind == "prompt.played":
                began = e.at - timedelta(milliseconds=float(e.data.get("ms", 0)))
                if started is not None:
                    greetings.append(max(0.0, (began - started).total_seconds() * 1000))
                    started = None
                if pending_key is not None and began >= pending_key:
                    keys.append((began - pending_key).total_seconds() * 1000)
                    (password_keys if checked else other_keys).append(keys[-1])
                    pending_key, checked = None, False
        reached += answered
        recorded += any(e.kind == "recording.saved" for e in evts)
    return JourneyFacts(calls=len(call_ids), reached_agent=reached, rows=rows, queue_wait_s=waits,
                        ring_answer_s=rings, key_prompt_ms=keys, password_checks=checks,
                        password_key_prompt_ms=password_keys, other_key_prompt_ms=other_keys, recorded=recorded,
                        greeting_ms=greetings)


def password_check_cpu_s(samples: int = 5, batch: int = 200) -> float:
    """CPU seconds of one service-password check as the controller runs it (median of ``samples`` batches)."""
    key = PasswordKey.generate()
    stored = hash_password("123456", key)
    costs = []
    for _ in range(samples):
        start = time.process_time()
        for _ in range(batch):
            verify_password("123456", stored, key)
        costs.append((time.process_time() - start) / batch)
    return statistics.median(costs)


def journal_facts(engine: Engine, since: datetime, dialed: str) -> JourneyFacts:
    """``facts`` of the calls to ``dialed`` started at ``since`` or later."""
    with engine.connect() as conn:
        ids = [row[0] for row in conn.execute(select(calls.c.id).where(calls.c.started_at >= since,
                                                                      calls.c.dialed == dialed))]
        if not ids:
            return facts([], [])
        rows = conn.execute(select(call_events.c.call_id, call_events.c.kind, call_events.c.at, call_events.c.data)
                            .where(call_events.c.call_id.in_(ids))).all()
    return facts((Event(r[0], r[1], r[2], dict(r[3] or {})) for r in rows), ids)


def recordings_since(folder: Path, since: float) -> int:
    """Recordings (``*.wav``) in ``folder`` last written at ``since`` (epoch seconds) or later; 0 without it."""
    if not folder.is_dir():
        return 0
    return sum(1 for f in folder.glob("*.wav") if f.stat().st_mtime >= since)


def journal_rows(engine: Engine) -> int:
    """Rows of the call journal so far (the writer's output, whatever the call)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(call_events)).scalar_one())
