"""Micro-benchmarks of pure code, no PBX: the ACD decision and the journal writer.

    python -m bench.micro [--agents 1000] [--queues 50] [--decisions 2000] [--rate 5000] [--seconds 10]
                          [--burst 50000] [--open-calls 200] [--journal-only] [--pg-url URL | --start-pg]
                          [--out bench/results]

- **ACD decision**: ``acd.routing.next_assignments`` (who gets which caller) over 1,000 agents with
  3 skills each out of 50 queues, a quarter of them available; timed per call for one caller arriving,
  one caller waiting per queue, and a backlog of ten per queue. Target: p99 < 2 ms.
- **Journal writer**: ``engine.store.journal.JournalWriter`` on a fresh database: events offered at a
  steady rate for some seconds (sustained when the backlog drains within a second of the last event and
  every event is a row: 0 lost), then a burst appended at once (the writer's throughput). The events are
  a call's journey (start, IVR, queue, offer, answer, recording, end) plus the agent's state changes,
  one call after the other (``sustained``, ``burst``) or ``--open-calls`` calls in progress at once with
  their events interleaved (``interleaved``: a batch then touches many calls the writer already knows, as
  on a busy hotline). Each run also gives the process's CPU per event (appends and the writer's thread).
  Target: >= 5,000 events/s sustained with 0 lost, on SQLite and, with ``--pg-url`` (an empty scratch
  database: the benchmark fills it with made-up calls) or ``--start-pg`` (a throwaway PostgreSQL 15
  server, started the way ``tests/postgres/conftest.py`` does), on PostgreSQL.

Results: Markdown on stdout and ``<out>/micro-<timestamp>.{md,json}``. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import pwd
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from acd.model import Agent, AgentId, AgentState, AgentStatus, CallUid, QueueName
from acd.queues import QueueConfig
from acd.routing import WaitingCaller, next_assignments
from bench.report import percentile
from engine.store.agent_journal_tables import agent_events
from engine.store.database import display_url, make_engine
from engine.store.journal import AGENT_PREFIX, JournalEntry, JournalWriter
from engine.store.migrate import upgrade
from engine.store.tables import call_events

ACD_TARGET_P99_MS = 2.0
JOURNAL_TARGET_EVENTS_S = 5000.0
DRAIN_LIMIT_S = 1.0
PG_BIN = Path("/usr/lib/postgresql/15/bin")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def progress(line: str) -> None:
    print(f"[micro] {line}", file=sys.stderr, flush=True)


# -- ACD decision -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    agents: list[Agent]
    statuses: dict[AgentId, AgentStatus]
    queues: dict[QueueName, QueueConfig]


def call_floor(agents: int, queues: int, rng: random.Random) -> Floor:
    """``agents`` agents with 3 of ``queues`` skills each; 25 % available, the rest talking, wrapping up,
    paused or signed out, as on a busy floor."""
    names = [QueueName(f"q{i:02d}") for i in range(queues)]
    queue_map = {name: QueueConfig(name=name, skills=frozenset({f"skill-{name}"})) for name in names}
    roster: list[Agent] = []
    statuses: dict[AgentId, AgentStatus] = {}
    for n in range(agents):
        agent_id = AgentId(str(10000 + n))
        skills = frozenset(f"skill-{q}" for q in rng.sample(names, k=min(3, queues)))
        roster.append(Agent(work_number=agent_id, name=f"agent {n}", skills=skills))
        draw = rng.random()
        state = (AgentState.AVAILABLE if draw < 0.25 else AgentState.ON_CALL if draw < 0.75
                 else AgentState.AFTER_CALL_WORK if draw < 0.9 else AgentState.PAUSED if draw < 0.97
                 else AgentState.LOGGED_OUT)
        since = T0 - timedelta(seconds=rng.uniform(1, 600))
        statuses[agent_id] = AgentStatus(
            agent=agent_id, state=state, since=since, registered=state is not AgentState.LOGGED_OUT,
            idle_since=since if state is AgentState.AVAILABLE else None,
            reason="break" if state is AgentState.PAUSED else None)
    return Floor(roster, statuses, queue_map)


def waiting_callers(floor: Floor, per_queue: int, total: int | None, rng: random.Random,
                    serial: Iterator[int]) -> list[WaitingCaller]:
    """``per_queue`` callers in every queue (or ``total`` callers in random queues): 5 % VIP, some
    having been refused by an agent or two already."""
    names = list(floor.queues)
    queues = [rng.choice(names) for _ in range(total)] if total is not None else names * per_queue
    agent_ids = list(floor.statuses)
    return [WaitingCaller(call=CallUid(f"call-{next(serial)}"), queue=queue,
                          priority=10 if rng.random() < 0.05 else 0,
                          enqueued_at=T0 - timedelta(seconds=rng.uniform(0, 300)),
                          caller=f"138{rng.randrange(10**8):08d}",
                          refused_by=frozenset(rng.sample(agent_ids, k=rng.choice((0, 0, 0, 1, 2)))))
            for queue in queues]


@dataclass(frozen=True)
class Timing:
    scenario: str
    waiting: int
    runs: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    offers_per_run: float

    @property
    def meets_target(self) -> bool:
        return self.p99_ms < ACD_TARGET_P99_MS


def time_decisions(floor: Floor, scenario: str, batches: Sequence[list[WaitingCaller]]) -> Timing:
    times: list[float] = []
    offers = 0
    for waiting in batches:
        started = time.perf_counter_ns()
        made = next_assignments(waiting, floor.agents, floor.statuses, floor.queues)
        times.append((time.perf_counter_ns() - started) / 1e6)
        offers += len(made)
    return Timing(scenario, len(batches[0]), len(batches), percentile(times, 50) or 0.0,
                  percentile(times, 99) or 0.0, max(times), offers / len(batches))


def bench_acd(agents: int, queues: int, decisions: int, seed: int = 11) -> list[Timing]:
    rng = random.Random(seed)
    floor = call_floor(agents, queues, rng)
    serial = itertools.count(1)
    scenarios: list[tuple[str, int, Callable[[], list[WaitingCaller]]]] = [
        ("one caller arrives", decisions, lambda: waiting_callers(floor, 0, 1, rng, serial)),
        (f"one caller waiting in each of the {queues} queues", decisions,
         lambda: waiting_callers(floor, 1, None, rng, serial)),
        ("backlog: ten callers waiting per queue", max(50, decisions // 10),
         lambda: waiting_callers(floor, 10, None, rng, serial)),
    ]
    results: list[Timing] = []
    for name, runs, make in scenarios:
        batches = [make() for _ in range(runs)]
        timing = time_decisions(floor, name, batches)
        progress(f"ACD, {name}: p50 {timing.p50_ms:.3f} ms, p99 {timing.p99_ms:.3f} ms")
        results.append(timing)
    return results


# -- journal writer -----------------------------------------------------------------------------------


def journey(call: int, at: datetime) -> list[JournalEntry]:
    """The journal entries of one caller's journey to an agent, and the agent's two state changes."""
    uid, agent = f"micro-{call}", f"{AGENT_PREFIX}{10000 + call % 1000}"
    step = timedelta(milliseconds=700)
    kinds: list[tuple[str, str, dict[str, Any]]] = [
        (uid, "call.started", {"caller": f"138{call:08d}", "dialed": "10086", "source": "controller"}),
        (uid, "ivr.node", {"node": "main_menu"}),
        (uid, "ivr.digits", {"node": "main_menu", "digits": "0"}),
        (uid, "ivr.branch", {"node": "main_menu", "to": "agent"}),
        (uid, "queue.entered", {"queue": "general", "priority": 0, "position": 3}),
        (uid, "queue.offered", {"queue": "general", "agent": agent.removeprefix(AGENT_PREFIX)}),
        (agent, "agent.state", {"from": "available", "to": "ringing", "call": uid}),
        (uid, "queue.answered", {"queue": "general", "agent": agent.removeprefix(AGENT_PREFIX), "wait_s": 4.2}),
        (agent, "agent.state", {"from": "ringing", "to": "on_call", "call": uid}),
        (uid, "recording.started", {"file": f"{uid}.wav"}),
        (uid, "recording.saved", {"file": f"{uid}.wav", "seconds": 61.0}),
        (uid, "call.ended", {"outcome": "answered", "cause": "16"}),
    ]
    return [JournalEntry(who, kind, at + step * i, data) for i, (who, kind, data) in enumerate(kinds)]


EVENTS_PER_CALL = len(journey(0, T0))


def entries(first_call: int, count: int) -> Iterator[JournalEntry]:
    """``count`` entries of consecutive journeys starting with call ``first_call``."""
    produced = 0
    for call in itertools.count(first_call):
        for entry in journey(call, T0 + timedelta(seconds=call)):
            if produced == count:
                return
            yield entry
            produced += 1


def interleaved(first_call: int, count: int, open_calls: int) -> Iterator[JournalEntry]:
    """``count`` entries of journeys ``open_calls`` at a time, their events taking turns (one of each call,
    then the next of each), in time order within each call."""
    produced = 0
    for group in itertools.count(first_call, open_calls):
        journeys = [journey(call, T0 + timedelta(seconds=call)) for call in range(group, group + open_calls)]
        for step in range(EVENTS_PER_CALL):
            for events in journeys:
                if produced == count:
                    return
                yield events[step]
                produced += 1


APPLY_EVENTS = 20_000


@dataclass(frozen=True)
class ApplyCost:
    """The writer's database part alone, in this thread (no event loop, no other thread to wait for)."""

    database: str
    events: int
    batch: int
    cpu_us_per_event: float
    statements_per_batch: float
    selects_per_batch: float


def apply_cost(database: str, url: str, spill: Path, open_calls: int, batch: int = 50,
               events: int = APPLY_EVENTS, first_call: int = 0) -> ApplyCost:
    """CPU per event and statements per batch of ``JournalWriter``'s database work on interleaved journeys
    (``open_calls`` at once) in batches of ``batch``, after a warm-up: steadier than the runs above on a
    loaded box, since nothing else of the writer competes for the GIL."""
    writer = JournalWriter(url, spill)
    statements: list[str] = []
    event.listen(writer._engine, "before_cursor_execute",
                 lambda _c, _k, statement, *_a: statements.append(statement))
    # Times follow on from the journal's (call n starts at T0 + n s): a jump of days would make the agent-time
    # rollup split every agent's state since its last change into quarter-hours, and measure that instead.
    source = list(interleaved(first_call, events, open_calls))
    batches = [source[i:i + batch] for i in range(0, len(source), batch)]
    warm = len(batches) // 10
    try:
        for chunk in batches[:warm]:
            writer._write(chunk)
        statements.clear()
        start = time.process_time()
        for chunk in batches[warm:]:
            writer._write(chunk)
        cpu_s = time.process_time() - start
    finally:
        writer._engine.dispose()
    timed = len(batches) - warm
    counted = sum(len(chunk) for chunk in batches[warm:])
    selects = sum(1 for s in statements if s.lstrip().upper().startswith("SELECT"))
    result = ApplyCost(database, counted, batch, cpu_s / counted * 1e6, len(statements) / timed, selects / timed)
    progress(f"journal on {database}, database work alone: {result.cpu_us_per_event:.0f} µs CPU per event, "
             f"{result.statements_per_batch:.1f} statements ({result.selects_per_batch:.1f} SELECTs) per batch")
    return result


def row_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return sum(int(connection.execute(select(func.count()).select_from(table)).scalar_one())
                       for table in (call_events, agent_events))
    finally:
        engine.dispose()


@dataclass(frozen=True)
class JournalRun:
    database: str
    mode: str  # "sustained" (offered at a rate) or "burst" (all at once)
    events: int
    offered_rate: float | None
    offered_for_s: float
    drain_s: float
    events_per_s: float
    max_backlog: int
    lost: int
    spilled: bool
    append_us: float  # event-loop time per append (the part call handling pays)
    cpu_us_per_event: float = 0.0  # the process's CPU (appends and the writer's thread) per event

    @property
    def sustained(self) -> bool:
        if self.lost or self.spilled:
            return False
        if self.offered_rate is None:
            return True
        return self.drain_s <= DRAIN_LIMIT_S and self.events / self.offered_for_s >= 0.98 * self.offered_rate

    @property
    def meets_target(self) -> bool:
        return self.sustained and (self.offered_rate or self.events_per_s) >= JOURNAL_TARGET_EVENTS_S


async def _offer(url: str, spill: Path, source: Iterator[JournalEntry], count: int,
                 rate: float | None) -> tuple[float, float, int, float, float]:
    """Append ``count`` entries at ``rate`` per second (None: as fast as possible); returns the time
    spent offering, the time to drain after the last append, the highest backlog, the loop time per
    append in µs and the process CPU per event in µs."""
    writer = JournalWriter(url, spill)
    task = asyncio.create_task(writer.run())
    sent, max_backlog, append_ns = 0, 0, 0
    start = time.monotonic()
    cpu_start = time.process_time()
    try:
        while sent < count:
            due = count if rate is None else min(count, int((time.monotonic() - start) * rate) + 1)
            due = min(due, sent + 1000) if rate is None else due
            for entry in itertools.islice(source, due - sent):
                t = time.perf_counter_ns()
                writer.append(entry)
                append_ns += time.perf_counter_ns() - t
            sent = due
            max_backlog = max(max_backlog, writer.pending)
            await asyncio.sleep(0 if rate is None else 0.01)
        offered = time.monotonic()
        await writer.wait_idle()
        drained = time.monotonic()
        cpu_s = time.process_time() - cpu_start
    finally:
        await writer.close()
        await task
    return (offered - start, drained - offered, max_backlog, append_ns / max(count, 1) / 1000,
            cpu_s / max(count, 1) * 1e6)


def bench_journal(database: str, url: str, spill: Path, rate: float, seconds: float, burst: int,
                  first_call: int = 0, open_calls: int = 200) -> list[JournalRun]:
    runs = []
    plans: list[tuple[str, int, float | None]] = [("sustained", int(rate * seconds), rate),
                                                  ("interleaved", int(rate * seconds), rate), ("burst", burst, None)]
    for mode, count, offered_rate in plans:
        before = row_count(url)
        source = interleaved(first_call, count, open_calls) if mode == "interleaved" else entries(first_call, count)
        first_call += count // EVENTS_PER_CALL + open_calls + 1
        offered_for, drain, backlog, append_us, cpu_us = asyncio.run(_offer(url, spill, source, count, offered_rate))
        written = row_count(url) - before
        total_s = offered_for + drain
        run = JournalRun(database=database, mode=mode, events=count, offered_rate=offered_rate,
                         offered_for_s=offered_for, drain_s=drain, events_per_s=written / total_s,
                         max_backlog=backlog, lost=count - written, spilled=spill.exists(), append_us=append_us,
                         cpu_us_per_event=cpu_us)
        progress(f"journal on {database}, {mode}: {count} events, {run.events_per_s:,.0f} events/s written, "
                 f"drained {drain:.2f} s after the last, backlog max {backlog}, {run.lost} lost, "
                 f"{cpu_us:.0f} µs CPU per event")
        runs.append(run)
        spill.unlink(missing_ok=True)
    return runs


# -- a throwaway PostgreSQL (the approach of tests/postgres/conftest.py) --------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: switch to the postgres OS user then.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class PostgresUnavailable(RuntimeError):
    """The throwaway PostgreSQL server cannot be started here."""


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """URL of a fresh ``hotline_micro`` database on a private PostgreSQL 15 server (127.0.0.1, free port,
    trust authentication, fsync off like the test server), stopped and removed on the way out."""
    if not (PG_BIN / "initdb").exists():
        raise PostgresUnavailable(f"PostgreSQL 15 server binaries not found in {PG_BIN}")
    folder = Path(tempfile.mkdtemp(prefix="hotline-micro-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(folder, user.pw_uid, user.pw_gid)
    data, port = folder / "data", _free_port()

    def run(args: list[str], what: str) -> None:
        done = subprocess.run(_as_server_user(args), cwd=folder, capture_output=True, text=True, timeout=90)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{what} failed: {done.stderr.strip() or done.stdout.strip()}")

    started = False
    try:
        run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C",
             "--no-sync"], "initdb")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
        started = True
        run([str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-t", "60", "start", "-l", str(folder / "server.log"),
             "-o", options], "pg_ctl start")
        server = f"postgresql://postgres@127.0.0.1:{port}"
        import psycopg  # only needed here; the engine's PostgreSQL driver

        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            connection.execute('CREATE DATABASE "hotline_micro"')
        yield f"{server}/hotline_micro"
    finally:
        if started:
            subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"]),
                           cwd=folder, capture_output=True, timeout=90, check=False)
        shutil.rmtree(folder, ignore_errors=True)


# -- report -----------------------------------------------------------------------------------------


def markdown(acd: Sequence[Timing], journal: Sequence[JournalRun], params: dict[str, Any],
             costs: Sequence[ApplyCost] = ()) -> str:
    """The results as Markdown: the ACD table, the journal table, each against its target."""
    lines = [
        "# Hotline micro-benchmarks",
        "",
        f"{params['cpus']} CPU cores, Python {params['python']}, load average (1/5/15 min) at the start "
        f"{' / '.join(f'{x:.2f}' for x in params['load_average'])} (other work on the box skews the figures); "
        f"command: `{params['command']}`.",
        "",
        f"ACD decision: `next_assignments` over {params['agents']:,} agents (3 skills each, 25 % available) and "
        f"{params['queues']} queues. Target: p99 < {ACD_TARGET_P99_MS:g} ms.",
        "",
        "| scenario | callers waiting | runs | offers per run | p50 ms | p99 ms | max ms | target |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    if not acd:
        lines[-5:] = ["", "ACD decision: not measured (`--journal-only`)."]
    for t in acd:
        lines.append(f"| {t.scenario} | {t.waiting} | {t.runs} | {t.offers_per_run:.1f} | {t.p50_ms:.3f} "
                     f"| {t.p99_ms:.3f} | {t.max_ms:.3f} | {'met' if t.meets_target else 'missed'} |")
    lines += [
        "",
        f"Journal writer: `JournalWriter` on a fresh database, {EVENTS_PER_CALL} events per call (journey + agent "
        f"states; interleaved: {params.get('open_calls', 200)} calls in progress at once). Sustained = drained "
        f"within {DRAIN_LIMIT_S:g} s of the last event, 0 lost, nothing spilled. "
        f"Target: ≥ {JOURNAL_TARGET_EVENTS_S:,.0f} events/s sustained (for a burst: written at that rate or "
        "faster, 0 lost).",
        "",
        "| database | mode | events | offered events/s | written events/s | drain s | backlog max | lost "
        "| loop µs per append | CPU µs per event | sustained | target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in journal:
        offered = "all at once" if r.offered_rate is None else f"{r.offered_rate:,.0f}"
        sustained = "–" if r.offered_rate is None else "yes" if r.sustained else "no"
        lines.append(f"| {r.database} | {r.mode} | {r.events:,} | {offered} | {r.events_per_s:,.0f} "
                     f"| {r.drain_s:.2f} | {r.max_backlog:,} | {r.lost} | {r.append_us:.1f} | {r.cpu_us_per_event:.0f} "
                     f"| {sustained} | {'met' if r.meets_target else 'missed'} |")
    if costs:
        lines += ["", "The writer's database work alone (`_write` in this thread, interleaved journeys in batches of "
                  f"{costs[0].batch}, after a warm-up):", "",
                  "| database | events | CPU µs per event | statements per batch | of which SELECTs |",
                  "|---|---:|---:|---:|---:|"]
        lines += [f"| {c.database} | {c.events:,} | {c.cpu_us_per_event:.0f} | {c.statements_per_batch:.1f} "
                  f"| {c.selects_per_batch:.1f} |" for c in costs]
    if params.get("postgres_skipped"):
        lines += ["", f"PostgreSQL: not measured ({params['postgres_skipped']})."]
    lines.append("")
    return "\n".join(lines)


def to_json(acd: Sequence[Timing], journal: Sequence[JournalRun], params: dict[str, Any],
            costs: Sequence[ApplyCost] = ()) -> dict[str, Any]:
    return {"params": params, "apply_cost": [asdict(c) for c in costs],
            "acd": [asdict(t) | {"meets_target": t.meets_target} for t in acd],
            "journal": [asdict(r) | {"sustained": r.sustained, "meets_target": r.meets_target} for r in journal]}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1000, help="agents on the floor (default 1000)")
    parser.add_argument("--queues", type=int, default=50, help="queues (default 50)")
    parser.add_argument("--decisions", type=int, default=2000, help="timed ACD decisions per scenario")
    parser.add_argument("--rate", type=float, default=JOURNAL_TARGET_EVENTS_S,
                        help="journal events offered per second (default 5000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the rate is offered (default 10)")
    parser.add_argument("--burst", type=int, default=50_000, help="events appended at once (default 50000)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pg-url", help="also on PostgreSQL: URL of an EMPTY scratch database it may fill")
    where.add_argument("--start-pg", action="store_true", help="also on a throwaway PostgreSQL 15 server")
    parser.add_argument("--open-calls", type=int, default=200, help="calls in progress at once (interleaved run)")
    parser.add_argument("--journal-only", action="store_true", help="skip the ACD decision benchmark")
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="where results go")
    args = parser.parse_args(argv)
    if args.agents < 1 or args.queues < 1 or args.decisions < 1 or args.rate <= 0 or args.seconds <= 0:
        parser.error("agents, queues, decisions, rate and seconds must be positive")
    return args


def _journal_on(database: str, url: str, spill: Path, args: argparse.Namespace) -> tuple[list[JournalRun], ApplyCost]:
    # First, on the empty database; the runs then take calls (and times) after its own.
    cost = apply_cost(database, url, spill, args.open_calls)
    after = APPLY_EVENTS // EVENTS_PER_CALL + args.open_calls + 1
    return bench_journal(database, url, spill, args.rate, args.seconds, args.burst, first_call=after,
                         open_calls=args.open_calls), cost


def _postgres_runs(args: argparse.Namespace, spill: Path) -> tuple[list[JournalRun], list[ApplyCost], str | None]:
    if args.pg_url:
        upgrade(args.pg_url)
        if row_count(args.pg_url):
            return [], [], f"{display_url(args.pg_url)} already holds journal rows; give an empty scratch database"
        runs, cost = _journal_on("PostgreSQL", args.pg_url, spill, args)
        return runs, [cost], None
    if args.start_pg:
        try:
            with throwaway_postgres() as url:
                upgrade(url)
                runs, cost = _journal_on("PostgreSQL", url, spill, args)
                return runs, [cost], None
        except PostgresUnavailable as exc:
            return [], [], str(exc)
    return [], [], "no --pg-url or --start-pg given"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    acd = [] if args.journal_only else bench_acd(args.agents, args.queues, args.decisions)
    folder = Path(tempfile.mkdtemp(prefix="hotline-micro-"))
    try:
        sqlite_url = f"sqlite:///{folder / 'journal.db'}"
        upgrade(sqlite_url)
        journal, cost = _journal_on("SQLite", sqlite_url, folder / "spill.jsonl", args)
        pg_runs, pg_costs, pg_skipped = _postgres_runs(args, folder / "pg-spill.jsonl")
        journal += pg_runs
        costs = [cost, *pg_costs]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if pg_skipped:
        progress(f"PostgreSQL not measured: {pg_skipped}")
    params: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"), "cpus": os.cpu_count(),
        "python": sys.version.split()[0], "load_average": [round(x, 2) for x in load_before],
        "command": " ".join(["python -m bench.micro", *(sys.argv[1:] if argv is None else argv)]),
        "agents": args.agents, "queues": args.queues, "decisions": args.decisions, "rate": args.rate,
        "seconds": args.seconds, "burst": args.burst, "open_calls": args.open_calls, "postgres_skipped": pg_skipped,
    }
    text = markdown(acd, journal, params, costs)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / started.strftime("micro-%Y%m%d-%H%M%S")
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps(to_json(acd, journal, params, costs), indent=2) + "\n",
                                         encoding="utf-8")
    print(text)
    progress(f"wrote {stem}.md and {stem}.json")
    met = (all(t.meets_target for t in acd[:2])
           and all(r.meets_target for r in journal if r.mode in ("sustained", "interleaved")))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
