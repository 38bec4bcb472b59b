"""How long `hotline report` takes over a year of a busy hotline, on SQLite and PostgreSQL.

    python -m bench.report_speed [--calls 1000000] [--year 2026] [--runs 3] [--no-pg] [--out bench/results]
    python -m bench.report_speed --calls 100000 --only-generate DATA_DIR   (a journal to try reports on)
    python -m bench.report_speed --only-generate DATA_DIR [--pg-url URL] [--no-sqlite]  (in PostgreSQL too/only)
    python -m bench.report_speed --time-only DATA_DIR [--pg-url URL] [--no-sqlite]      (time reports on them)

Generates a journal of ``--calls`` calls over the year (Asia/Shanghai; more calls on weekdays and in office
hours; 36 day-shift agents 08:00-22:00 and 4 at night, each answered call offered to the agent free first;
fewer agents for fewer calls), written straight into a freshly upgraded database with bulk inserts (SQLite
``executemany``, PostgreSQL ``COPY``) in the shape the journal writer leaves it: ``calls`` with their
disposition and facts (and after-call work), ~16 ``call_events`` per answered call, ``agent_events``,
``call_talks``, ``call_acw`` and the ``agent_time`` and ``agent_time_hourly`` rollups (computed with the
writer's own ``engine.reports.rollup.split``).
Then it times the `hotline report
--json` command (a new process, as an operator runs it) for one day, one week and the whole year (by month
and by day), ``--runs`` times each, on SQLite and on a throwaway PostgreSQL 15 server (bench.micro's), or
on the empty scratch database ``--pg-url`` names. A 1 M-call year takes several minutes to generate: write it
once with ``--only-generate`` and time it as often as needed with ``--time-only`` (``hotline`` is the one
next to this Python: set PYTHONPATH to time another checkout's code on the same journal).
Targets: a day < 2 s, a year < 10 s. Results: Markdown on stdout and ``<out>/report-<timestamp>.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bench.micro import PostgresUnavailable, throwaway_postgres
from engine.reports.projection import QUARTERS_PER_HOUR
from engine.reports.rollup import SLOT_S, split
from engine.store.migrate import upgrade

TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)
DAY_TARGET_S = 2.0
YEAR_TARGET_S = 10.0
HOURLY = (1, 1, 1, 1, 1, 2, 4, 10, 40, 60, 64, 62, 50, 52, 60, 58, 54, 46, 34, 26, 20, 14, 8, 3)
DAY_AGENTS_PER_MILLION = 36
NIGHT_AGENTS_PER_MILLION = 4
IVR = ("ivr.node", "ivr.digits", "ivr.node", "ivr.branch", "ivr.exit")

Row = tuple[Any, ...]


def progress(line: str) -> None:
    print(f"[report-speed] {line}", file=sys.stderr, flush=True)


# -- the generated journal ------------------------------------------------------------------------------------


@dataclass
class Batch:
    """Rows of some days, per table, in column order (see ``COLUMNS``)."""

    calls: list[Row] = field(default_factory=list)
    call_events: list[Row] = field(default_factory=list)
    agent_events: list[Row] = field(default_factory=list)
    call_talks: list[Row] = field(default_factory=list)
    call_acw: list[Row] = field(default_factory=list)
    agent_time: list[Row] = field(default_factory=list)
    agent_time_hourly: list[Row] = field(default_factory=list)

    def size(self) -> int:
        return sum(len(rows) for rows in vars(self).values())


COLUMNS: dict[str, tuple[str, ...]] = {
    "calls": ("id", "call_uid", "caller", "dialed", "source", "started_at", "answered_at", "ended_at", "outcome",
              "hangup_cause", "disposition", "disposition_detail", "queue", "agent", "wait_s", "rings", "transfers",
              "overflows", "tried_self_service", "callback_booked", "callback_done", "callback_failed", "conversations",
              "talk_s", "hold_s", "previous_gap_s", "next_gap_s", "acw_s"),
    "call_events": ("call_id", "seq", "at", "kind", "data"),
    "agent_events": ("agent", "at", "from_state", "to_state", "reason", "call_uid"),
    "call_talks": ("call_id", "agent", "talk_s", "hold_s", "ended_by", "started_at", "queue"),
    "call_acw": ("call_uid", "agent", "seconds"),
    "agent_time": ("slot", "agent", "state", "seconds"),
    "agent_time_hourly": ("hour", "agent", "state", "seconds"),
}


class Floor:
    """Agents' state over the year: who is free first, their journaled changes, the agent_time rollup."""

    def __init__(self, batch_of: list[Batch], calls: int) -> None:
        self._batch_of = batch_of  # one-element holder: the batch being filled
        # Staffed for the load: 36 + 4 agents for a million calls a year, fewer for fewer.
        day, night = (max(least, round(per_million * calls / 1e6))
                      for least, per_million in ((3, DAY_AGENTS_PER_MILLION), (1, NIGHT_AGENTS_PER_MILLION)))
        self.day_agents = [f"2{i:03d}" for i in range(1, day + 1)]
        self.night_agents = [f"2{i:03d}" for i in range(100, 100 + night)]
        self.state: dict[str, tuple[datetime, str, str | None]] = {}
        self.free_at: dict[str, datetime] = {}
        self.seconds: dict[tuple[int, str, str], float] = defaultdict(float)
        self.hourly: dict[tuple[int, str, str], float] = defaultdict(float)

    def change(self, agent: str, at: datetime, to: str, call_uid: str | None = None) -> None:
        before = self.state.get(agent)
        if before is not None:
            since, state, call = before
            if state != "logged_out":
                for slot, part in split(since, at):
                    self.seconds[(slot, agent, state)] += part
                    self.hourly[(slot // QUARTERS_PER_HOUR, agent, state)] += part
        self._batch_of[0].agent_events.append((agent, at, before[1] if before else "logged_out", to, None, call_uid))
        self.state[agent] = (at, to, call_uid)

    def online(self, agent: str) -> bool:
        return agent in self.state and self.state[agent][1] != "logged_out"

    def flush_rollup(self) -> None:
        """Move the finished slots (before every agent's current state began) to the batch."""
        oldest = min(since for since, _, _ in self.state.values())
        final = math.floor(oldest.timestamp() / SLOT_S)
        done = [key for key in self.seconds if key[0] < final]
        self._batch_of[0].agent_time.extend((*key, self.seconds.pop(key)) for key in done)
        # An hour is finished when its last quarter is: hours before the one holding ``final``.
        done = [key for key in self.hourly if key[0] < final // QUARTERS_PER_HOUR]
        self._batch_of[0].agent_time_hourly.extend((*key, self.hourly.pop(key)) for key in done)

    def flush_all(self) -> None:
        self._batch_of[0].agent_time.extend((*key, value) for key, value in self.seconds.items())
        self._batch_of[0].agent_time_hourly.extend((*key, value) for key, value in self.hourly.items())
        self.seconds.clear()
        self.hourly.clear()


def _arrivals(year: int, calls: int, rng: random.Random) -> Iterator[datetime]:
    days = [datetime(year, 1, 1, tzinfo=TZ) + timedelta(days=d) for d in range((datetime(year + 1, 1, 1) -
                                                                               datetime(year, 1, 1)).days)]
    weights = [1.0 if day.weekday() < 5 else 0.6 for day in days]
    total = sum(weights)
    hours = sum(HOURLY)
    made = 0
    for day, weight in zip(days, weights, strict=True):
        count = round(calls * weight / total) if day != days[-1] else calls - made
        made += count
        moments = []
        for _ in range(count):
            hour = rng.choices(range(24), HOURLY)[0] if hours else 0
            moments.append(day + timedelta(hours=hour, seconds=rng.uniform(0, 3600)))
        yield from sorted(moments)


def _shift_changes(floor: Floor, day: datetime) -> list[tuple[datetime, str, str]]:
    """Day-shift sign-ins at 08:00 and sign-outs at 22:00; the night agents stay on."""
    return [(day + timedelta(hours=8), agent, "available") for agent in floor.day_agents] + \
        [(day + timedelta(hours=22), agent, "logged_out") for agent in floor.day_agents]


def _detail(queue: str | None, wait: float | None, agent: str | None, talks: list[list[Any]],
            extra: dict[str, Any]) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if queue is not None:
        detail["queue"] = queue
    if wait is not None:
        detail["wait_s"] = round(wait, 1)
    if agent is not None:
        detail["agent"], detail["rings"] = agent, 1
    if talks:
        detail["talks"] = talks
    return {**detail, **extra}


def generate(year: int, calls: int, seed: int = 7, call_events: bool = True) -> Iterator[Batch]:
    """The journal of ``calls`` calls over ``year``, a batch of rows per day (``call_events``: False leaves out
    the calls' event rows, which no report reads: 13 M of the 22 M rows, about half the generation time)."""
    rng = random.Random(seed)
    holder = [Batch()]
    floor = Floor(holder, calls)
    start = datetime(year, 1, 1, tzinfo=TZ)
    for agent in floor.night_agents:
        floor.change(agent, start, "available")
    pending_shifts: list[tuple[datetime, str, str]] = []
    current_day: datetime | None = None
    arrivals = list(_arrivals(year, calls, rng))
    people = max(calls // 3, 1)
    callers = [f"138{rng.randrange(people):08d}" for _ in arrivals]
    gaps = _gaps(arrivals, callers)
    for call_id, arrival in enumerate(arrivals, start=1):
        day = datetime.combine(arrival.astimezone(TZ).date(), datetime.min.time(), TZ)
        if day != current_day:
            for at, agent, to in pending_shifts:  # the evening's sign-outs after the day's last call
                free = max(at, floor.free_at.get(agent, at))
                floor.change(agent, free, to)
                floor.free_at[agent] = free
            if current_day is not None:
                floor.flush_rollup()
                yield holder[0]
                holder[0] = Batch()
            current_day = day
            pending_shifts = sorted(_shift_changes(floor, day))
        while pending_shifts and pending_shifts[0][0] <= arrival:
            at, agent, to = pending_shifts.pop(0)
            free = max(at, floor.free_at.get(agent, at))
            floor.change(agent, free, to)
            floor.free_at[agent] = free
        _one_call(holder[0], floor, rng, call_id, arrival, callers[call_id - 1], gaps.get(call_id, (None, None)),
                  call_events)
    for at, agent, to in pending_shifts:
        floor.change(agent, max(at, floor.free_at.get(agent, at)), to)
    floor.flush_all()
    yield holder[0]


def _gaps(arrivals: Sequence[datetime], callers: Sequence[str]) -> dict[int, tuple[float | None, float | None]]:
    """Per call id (1-based), seconds since the caller's previous call and until their next one."""
    last: dict[str, tuple[int, datetime]] = {}
    found: dict[int, list[float | None]] = {}
    for call_id, (at, caller) in enumerate(zip(arrivals, callers, strict=True), start=1):
        found[call_id] = [None, None]
        before = last.get(caller)
        if before is not None and at > before[1]:
            gap = (at - before[1]).total_seconds()
            found[call_id][0] = gap
            found[before[0]][1] = gap
        last[caller] = (call_id, at)
    return {call_id: (pair[0], pair[1]) for call_id, pair in found.items() if pair != [None, None]}


def _one_call(batch: Batch, floor: Floor, rng: random.Random, call_id: int, t0: datetime, caller: str,
              gaps: tuple[float | None, float | None], call_events: bool = True) -> None:
    uid = f"gen-{call_id}"
    events: list[tuple[datetime, str, dict[str, Any]]] = [(t0, "call.started", {"caller": caller, "dialed": "10086",
                                                                                 "source": "controller"})]
    for i, kind in enumerate(IVR):
        events.append((t0 + timedelta(seconds=2 + 3 * i), kind, {"node": "main_menu", "digits": "1"}))
    t_ivr = t0 + timedelta(seconds=18)
    draw = rng.random()
    queue: str | None = None
    wait: float | None = None
    agent: str | None = None
    talks: list[list[Any]] = []
    extra: dict[str, Any] = {}
    answered_at: datetime | None = None
    acw_s: float | None = None
    if draw < 0.08:  # balance heard in self-service
        name, end, extra = "self_service", t_ivr + timedelta(seconds=40), {"tried_self_service": True,
                                                                           "result": "balance"}
        events.append((t_ivr, "lookup.result", {"kind": "balance", "status": "ok"}))
    elif draw < 0.10:
        name, end, extra = "abandoned_ivr", t_ivr + timedelta(seconds=5), {"node": "main_menu", "by": "caller"}
    else:
        queue = "vip" if rng.random() < 0.15 else "general"
        entered = t_ivr + timedelta(seconds=1)
        events.append((entered, "queue.entered", {"queue": queue, "position": 1}))
        events.append((entered + timedelta(seconds=1), "queue.position", {"queue": queue, "position": 1}))
        online = [a for a in (*floor.day_agents, *floor.night_agents) if floor.online(a)]
        agent = min(online, key=lambda a: floor.free_at.get(a, entered)) if online else None
        ready = max(entered + timedelta(seconds=rng.uniform(2, 12)), floor.free_at.get(agent, entered)) \
            if agent is not None else entered + timedelta(hours=1)
        patience = rng.expovariate(1 / 120)
        if (ready - entered).total_seconds() > patience or agent is None:
            agent, wait = None, patience
            end = entered + timedelta(seconds=patience)
            if rng.random() < 0.3 and patience > 60:
                name, extra = "message_left", {"message": call_id}
                events.append((end, "message.saved", {"message": call_id}))
                end += timedelta(seconds=30)
            else:
                name = "short_abandon" if patience <= 20 else "abandoned_queue"
        else:
            ringing, ready = ready, ready + timedelta(seconds=4)
            answered_at = ready
            wait = (ready - entered).total_seconds()
            talk = rng.uniform(60, 600)
            hold = rng.uniform(15, 60) if rng.random() < 0.1 else 0.0
            end = ready + timedelta(seconds=talk + hold)
            ended_by = "transfer" if rng.random() < 0.05 else ("silent" if rng.random() < 0.01 else "end")
            talks = [[agent, round(talk, 1), round(hold, 1), ended_by]]
            name = {"transfer": "transferred", "silent": "silent"}.get(ended_by, "answered")
            if ended_by == "transfer":
                extra = {"transfers": 1, "from_agent": agent, "to_queue": "complaints"}
            if ended_by == "silent":
                extra = {"variant": "silent"}
            events += [(ringing, "queue.offered", {"queue": queue, "agent": agent}),
                       (ready, "queue.answered", {"queue": queue, "agent": agent}),
                       (ready, "recording.started", {"file": f"{uid}.wav"}),
                       (end, "recording.saved", {"file": f"{uid}.wav", "seconds": round(talk, 1)}),
                       (end, "call.agent_hung_up", {"agent": agent})]
            acw = 30.0
            floor.change(agent, ringing, "ringing", uid)
            floor.change(agent, ready, "on_call", uid)
            floor.change(agent, end, "after_call_work", uid)
            floor.change(agent, end + timedelta(seconds=acw), "available")
            floor.free_at[agent] = end + timedelta(seconds=acw)
            batch.call_talks.append((call_id, agent, round(talk, 1), round(hold, 1), ended_by, t0, queue))
            batch.call_acw.append((uid, agent, acw))
            acw_s = acw
    outcome = "completed" if answered_at is not None else "abandoned"
    events.append((end, "call.ended", {"outcome": outcome, "cause": "16"}))
    if call_events:
        for seq, (at, kind, data) in enumerate(events, start=1):
            batch.call_events.append((call_id, seq, at, kind, json.dumps(data)))
    detail = _detail(queue, wait, agent, talks, extra)
    callback = detail.get("callback") or {}
    batch.calls.append((call_id, uid, caller, "10086", "controller", t0, answered_at, end, outcome, "16", name,
                        json.dumps(detail), queue, agent, None if wait is None else round(wait, 1),
                        1 if agent else 0, int(extra.get("transfers", 0)), 0, bool(extra.get("tried_self_service")),
                        "booked" in callback, "done" in callback, "failed" in callback, len(talks),
                        sum(float(t[1]) for t in talks), sum(float(t[2]) for t in talks), *gaps,
                        acw_s))


# -- loading --------------------------------------------------------------------------------------------------


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, bool):
        return int(value)
    return value


def load_sqlite(path: Path, batches: Iterator[Batch]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA synchronous=OFF")
    try:
        for batch in batches:
            for table, columns in COLUMNS.items():
                rows = getattr(batch, table)
                if not rows:
                    continue
                marks = ", ".join("?" for _ in columns)
                connection.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
                                       [tuple(_sqlite_value(v) for v in row) for row in rows])
                counts[table] += len(rows)
            connection.commit()
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()
    return dict(counts)


def load_postgres(url: str, batches: Iterator[Batch]) -> dict[str, int]:
    import psycopg

    counts: dict[str, int] = defaultdict(int)
    with psycopg.connect(url) as connection:
        for batch in batches:
            with connection.cursor() as cursor:
                for table, columns in COLUMNS.items():
                    rows = getattr(batch, table)
                    if not rows:
                        continue
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
                    counts[table] += len(rows)
            connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return dict(counts)


# -- timing ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    database: str
    period: str
    args: tuple[str, ...]
    seconds: list[float]
    target_s: float
    calls: int
    loads: list[float] = field(default_factory=list)
    """The 1-minute load average as each run began (the box is shared: say how busy it was)."""

    @property
    def best_s(self) -> float:
        return min(self.seconds)

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def met(self) -> bool:
        return self.median_s < self.target_s


PERIODS = ("day", "week", "year-month", "year-day")


def time_reports(database: str, env: dict[str, str], year: int, runs: int,
                 only: Sequence[str] = PERIODS) -> list[Timing]:
    day = f"{year}-06-16"
    periods = [("a day (per hour)", ("--from", day), DAY_TARGET_S),
               ("a week (per day)", ("--from", f"{year}-06-15", "--to", f"{year}-06-21"), DAY_TARGET_S),
               ("a year (per month)", ("--from", f"{year}-01-01", "--to", f"{year}-12-31"), YEAR_TARGET_S),
               ("a year (per day)", ("--from", f"{year}-01-01", "--to", f"{year}-12-31", "--interval", "day"),
                YEAR_TARGET_S)]
    periods = [period for key, period in zip(PERIODS, periods, strict=True) if key in only]
    hotline = str(Path(sys.executable).with_name("hotline"))
    subprocess.run([hotline, "report", "--from", day, "--json"], env=env, capture_output=True, check=False)  # warm-up
    timings = []
    for name, args, target in periods:
        seconds, calls, loads = [], 0, []
        for _ in range(runs):
            loads.append(round(os.getloadavg()[0], 2))
            began = time.perf_counter()
            done = subprocess.run([hotline, "report", *args, "--json"], env=env, capture_output=True, text=True,
                                  check=False, timeout=600)
            seconds.append(time.perf_counter() - began)
            if done.returncode != 0:
                raise RuntimeError(f"hotline report {' '.join(args)} failed: {done.stderr.strip()}")
            calls = int(json.loads(done.stdout)["totals"]["calls"])
        timing = Timing(database, name, args, seconds, target, calls, loads)
        progress(f"{database}, {name}: median {timing.median_s:.2f} s over {runs} runs, {calls:,} calls, "
                 f"load {' / '.join(f'{x:.2f}' for x in loads)}")
        timings.append(timing)
    return timings


def _env(folder: Path, url: str | None, data_dir: Path | None = None) -> dict[str, str]:
    # As installed: byte-code cached (a PYTHONDONTWRITEBYTECODE environment would compile every module each run).
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(data_dir or folder / "data"),
                "HOTLINE_TIMEZONE": TZ_NAME, "HOTLINE_PBX_ROOT": str(folder / "pbx-root")})
    if url is not None:
        env["HOTLINE_DATABASE_URL"] = url
    return env


def bench_sqlite(folder: Path, args: argparse.Namespace) -> tuple[list[Timing], dict[str, Any]]:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    path = folder / "data" / "hotline.db"
    upgrade(f"sqlite:///{path}")
    began = time.perf_counter()
    counts = load_sqlite(path, generate(args.year, args.calls, call_events=not args.no_call_events))
    loaded = time.perf_counter() - began
    progress(f"SQLite: loaded {sum(counts.values()):,} rows in {loaded:.0f} s ({path.stat().st_size / 2**30:.1f} GiB)")
    info = {"rows": counts, "load_s": round(loaded, 1), "size_gib": round(path.stat().st_size / 2**30, 2)}
    return time_reports("SQLite", _env(folder, None), args.year, args.runs, args.periods), info


def bench_postgres(folder: Path, args: argparse.Namespace) -> tuple[list[Timing], dict[str, Any]]:
    if args.pg_url is not None:
        return _generate_and_time_postgres(folder, args, args.pg_url)
    with throwaway_postgres() as url:
        return _generate_and_time_postgres(folder, args, url)


def _generate_and_time_postgres(folder: Path, args: argparse.Namespace, url: str) -> tuple[list[Timing],
                                                                                           dict[str, Any]]:
    info = generate_postgres(url, args)
    return time_reports("PostgreSQL", _env(folder, url), args.year, args.runs, args.periods), info


def generate_postgres(url: str, args: argparse.Namespace) -> dict[str, Any]:
    upgrade(url)
    began = time.perf_counter()
    counts = load_postgres(url, generate(args.year, args.calls, call_events=not args.no_call_events))
    loaded = time.perf_counter() - began
    progress(f"PostgreSQL: loaded {sum(counts.values()):,} rows in {loaded:.0f} s")
    return {"rows": counts, "load_s": round(loaded, 1)}


def time_only(args: argparse.Namespace) -> tuple[list[Timing], dict[str, Any]]:
    """Time the reports on a journal generated before (``--only-generate``), upgraded to this code's schema."""
    timings: list[Timing] = []
    info: dict[str, Any] = {}
    folder: Path = args.time_only
    # Not upgraded here: `hotline report` says so if the journal's schema is not the one its code needs.
    if not args.no_sqlite:
        if not (folder / "hotline.db").exists():
            raise SystemExit(f"--time-only: {folder / 'hotline.db'} does not exist (write it with --only-generate)")
        info["SQLite"] = {"journal": str(folder / "hotline.db")}
        env = _env(folder.parent, None, data_dir=folder)
        timings += time_reports("SQLite", env, args.year, args.runs, args.periods)
    if args.pg_url is not None and not args.no_pg:
        info["PostgreSQL"] = {"journal": "--pg-url"}
        env = _env(folder.parent, args.pg_url, data_dir=folder)
        timings += time_reports("PostgreSQL", env, args.year, args.runs, args.periods)
    return timings, info


def markdown(timings: Sequence[Timing], info: dict[str, Any], params: dict[str, Any]) -> str:
    lines = [
        "# hotline report speed",
        "",
        f"{params['cpus']} CPU cores, load average (1/5/15 min) at the start {params['load_average']}, at the end "
        f"{params.get('load_average_end', '?')}; a generated year "
        f"({params['calls']:,} calls, {params['year']}, {TZ_NAME}); `hotline report ... --json` as a new process, "
        f"{params['runs']} runs each (median; best in brackets). Targets: a day < {DAY_TARGET_S:g} s, "
        f"a year < {YEAR_TARGET_S:g} s.",
        "",
    ]
    for database, details in info.items():
        rows = details.get("rows", {})
        lines.append(f"- {database}: {sum(rows.values()):,} rows ("
                     + ", ".join(f"{table} {count:,}" for table, count in rows.items())
                     + f"), loaded in {details.get('load_s')} s")
    lines += ["", "| database | period | calls | median s | best s | load avg (1 min) at each run | target | met |",
              "|---|---|---:|---:|---:|---|---:|---|"]
    for t in timings:
        lines.append(f"| {t.database} | {t.period} | {t.calls:,} | {t.median_s:.2f} | {t.best_s:.2f} | "
                     f"{' / '.join(f'{x:.2f}' for x in t.loads)} | < {t.target_s:g} s | {'yes' if t.met else 'no'} |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.report_speed", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1_000_000, help="calls in the generated year")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=3, help="runs of each report")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--periods", type=lambda text: [p.strip() for p in text.split(",")], default=list(PERIODS),
                        help=f"which reports to time, of {','.join(PERIODS)} (default: all)")
    parser.add_argument("--no-call-events", action="store_true",
                        help="leave out the calls' event rows (no report reads them; half the generation time)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--only-generate", type=Path, metavar="DATA_DIR",
                        help="only write the generated journal to DATA_DIR/hotline.db (SQLite), and to the "
                             "--pg-url database if given, and stop")
    parser.add_argument("--time-only", type=Path, metavar="DATA_DIR",
                        help="generate nothing: time the reports on DATA_DIR/hotline.db and on the --pg-url "
                             "database (both written before with --only-generate, at the schema of the code timed)")
    parser.add_argument("--pg-url", metavar="URL",
                        help="an empty scratch PostgreSQL database to use instead of a throwaway server")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.runs < 1:
        parser.error("--calls and --runs must be positive")
    if not args.periods or set(args.periods) - set(PERIODS):
        parser.error(f"--periods: choose among {','.join(PERIODS)}")
    if args.only_generate is not None and args.time_only is not None:
        parser.error("choose one of --only-generate and --time-only")
    if args.no_sqlite and (args.no_pg or args.pg_url is None and args.time_only is not None):
        parser.error("--no-sqlite leaves no database to use")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.only_generate is not None:
        args.only_generate.mkdir(parents=True, exist_ok=True)
        if not args.no_sqlite:
            upgrade(f"sqlite:///{args.only_generate / 'hotline.db'}")
            counts = load_sqlite(args.only_generate / "hotline.db",
                                 generate(args.year, args.calls, call_events=not args.no_call_events))
            progress(f"wrote {sum(counts.values()):,} rows to {args.only_generate / 'hotline.db'}")
        if args.pg_url is not None and not args.no_pg:
            generate_postgres(args.pg_url, args)
        return 0
    started = datetime.now(UTC)
    params: dict[str, Any] = {"started": started.isoformat(timespec="seconds"), "cpus": os.cpu_count(),
                              "load_average": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
                              "calls": args.calls, "year": args.year, "runs": args.runs}
    folder = Path(tempfile.mkdtemp(prefix="hotline-report-speed-"))
    timings: list[Timing] = []
    info: dict[str, Any] = {}
    try:
        if args.time_only is not None:
            timings, info = time_only(args)
            return _write_results(args, started, params, timings, info)
        if not args.no_sqlite:
            found, info["SQLite"] = bench_sqlite(folder, args)
            timings += found
            shutil.rmtree(folder / "data", ignore_errors=True)
        if not args.no_pg:
            try:
                found, info["PostgreSQL"] = bench_postgres(folder, args)
                timings += found
            except PostgresUnavailable as exc:
                progress(f"PostgreSQL not measured: {exc}")
                info["PostgreSQL"] = {"skipped": str(exc)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _write_results(args, started, params, timings, info)


def _write_results(args: argparse.Namespace, started: datetime, params: dict[str, Any], timings: Sequence[Timing],
                   info: dict[str, Any]) -> int:
    params["load_average_end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    text = markdown(timings, {k: v for k, v in info.items() if "rows" in v}, params)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / started.strftime("report-%Y%m%d-%H%M%S")
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps({"params": params, "databases": info,
                                                     "timings": [asdict(t) | {"median_s": t.median_s, "met": t.met}
                                                                 for t in timings]}, indent=2) + "\n",
                                         encoding="utf-8")
    print(text)
    progress(f"wrote {stem}.md and {stem}.json")
    return 0 if all(t.met for t in timings) else 1


if __name__ == "__main__":
    sys.exit(main())
