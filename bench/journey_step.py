"""One journey load step: callers at a rate through one path, measured, judged by the sustained criterion.

Paths: ``journey`` (the hotline number: controller IVR, queue, agent, recording, journal) and ``app_queue``
(``8`` + the number: the same journey in dialplan and app_queue, ``dialplan/hotline.conf.j2``). The step
starts when every agent is available again, runs both caller kinds (``journey_callers``), polls the channel
count, then reads CPU seconds of Asterisk and the controller, the controller's RSS, journal rows and the
journal's figures (``journey_measure``), the agents' ring->answer (their SIPp logs) and, for app_queue,
the queue wait from queue_log and the conversations MixMonitor recorded. ``completed`` = calls the PBX hung
up after the agent did.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench.criterion import Observation, Thresholds, Verdict, judge
from bench.journey_agents import AgentFloor
from bench.journey_callers import CallerRun, collect, start_callers
from bench.journey_measure import (
    JourneyFacts,
    box_ticks,
    busy_share,
    cpu_pressure_us,
    cpu_seconds,
    journal_facts,
    journal_rows,
    proc_stat,
    recordings_since,
    steal_ticks,
)
from bench.pbx_session import active_channels, rss_kib
from bench.report import percentile
from engine.pbx.control import PbxControl

PATH_NAMES = ("journey", "app_queue")
# Before a step: how long the calls of the one before may take to end, then how long the box rests.
DRAIN_S = 90.0
COOL_DOWN_S = 5.0
# A step starts once the box is this quiet (share of both cores busy over a second), or after SETTLE_S.
QUIET_SHARE = 0.25
SETTLE_S = 60.0


@dataclass(frozen=True)
class StepSetup:
    """What every step of a run shares."""

    control: PbxControl
    config_file: Path
    journal: Engine
    hotline_number: str
    controller_pid: int | None
    asterisk_pid: int | None
    queue_log: Path
    floor: AgentFloor
    workdir: Path
    seconds: int
    share: float
    talk_s: float
    call_seconds: float
    max_call_s: float
    thresholds: Thresholds = Thresholds()
    # One password check's CPU on this box (journey_measure.password_check_cpu_s); None: not measured.
    password_check_cpu_s: float | None = None
    # How long a step waits for a quiet box before it starts (`settle`); 0: not at all.
    settle_s: float = SETTLE_S
    # Where app_queue's MixMonitor writes the baseline's recordings (counted per step); None: not counted.
    baseline_recordings: Path | None = None
    # The controller's live status file, whose ``ari`` counts its ARI requests and events; None: not counted.
    status_file: Path | None = None


@dataclass(frozen=True)
class Spread:
    p50: float | None
    p95: float | None
    max: float | None

    @classmethod
    def of(cls, values: list[float], scale: float = 1.0) -> Spread:
        if not values:
            return cls(None, None, None)
        return cls(percentile([v * scale for v in values], 50), percentile([v * scale for v in values], 95),
                   max(values) * scale)


@dataclass(frozen=True)
class JourneyStep:
    path: str
    rate: float
    seconds: int
    planned: int
    completed: int
    reached_agent: int | None
    retransmissions: int
    answer_ms: Spread
    key_prompt_ms: Spread
    queue_wait_s: Spread
    ring_answer_ms: Spread
    peak_channels: int | None
    asterisk_cpu_s: float | None
    controller_cpu_s: float | None
    controller_rss_mib: float | None
    journal_rows_per_s: float | None
    wall_s: float
    verdict: Verdict
    callers: list[dict[str, Any]] = field(default_factory=list)
    # Service-password checks the step's calls ran (journey path) and one check's CPU on this box.
    password_checks: int | None = None
    password_check_cpu_s: float | None = None
    # key→prompt split: keys that ended a service password (their prompt waits for its check) and the others.
    key_prompt_after_password_ms: Spread = Spread(None, None, None)
    key_prompt_other_ms: Spread = Spread(None, None, None)
    # Conversations recorded: journey, calls with `recording.saved`; app_queue, MixMonitor files. None: not counted.
    recorded: int | None = None
    # Calls connected to an agent: journey, `queue.answered`; app_queue, queue_log CONNECT lines.
    connected: int | None = None
    # The controller's ARI requests sent and events received over the step (journey); None: not counted.
    ari_requests: int | None = None
    ari_events: int | None = None
    # The dialplan's answer (StasisStart) to the greeting's start (journey); the silence a caller hears first.
    greeting_ms: Spread = Spread(None, None, None)
    # The whole box over the step, 0..1 of all its cores: busy (every process: Asterisk, controller, SIPp callers
    # and agents, the bench) and stolen by the hypervisor (counted in busy). None: not measured. A step that
    # fails well below full use failed on latency, not on CPU.
    box_busy: float | None = None
    box_steal: float | None = None
    # The share of the step's wall time in which some runnable task waited for a CPU (PSI); None: not given.
    cpu_pressure: float | None = None
    # The controller's garbage collections over the step (`gc_step`); None: not read.
    gc: dict[str, float] | None = None
    # The controller's event-loop lag over the step (`loop_step`); None: not read.
    loop: dict[str, float] | None = None

    @property
    def sustained(self) -> bool:
        return self.verdict.sustained

    @property
    def controller_cpu_without_passwords_s(self) -> float | None:
        """The controller's CPU less its password checks (count x one check's CPU, measured apart)."""
        if self.controller_cpu_s is None or self.password_checks is None or self.password_check_cpu_s is None:
            return None
        return max(0.0, self.controller_cpu_s - self.password_checks * self.password_check_cpu_s)

    def per_call_ms(self, cpu_s: float | None) -> float | None:
        return None if cpu_s is None or not self.planned else cpu_s / self.planned * 1000

    def per_call(self, count: int | None) -> float | None:
        return None if count is None or not self.planned else round(count / self.planned, 1)


def status_figures(status_file: Path | None, part: str, names: tuple[str, ...]) -> dict[str, float] | None:
    """Figures ``names`` of the part ``part`` (``ari``: the ARI client's counts, ``gc``: engine.gc_pauses,
    ``loop``: engine.loop_lag) of the controller's live status file; None when there is none or it does not
    give them (an older controller)."""
    if status_file is None:
        return None
    try:
        figures = json.loads(status_file.read_text(encoding="utf-8")).get(part) or {}
        return {name: float(figures[name]) for name in names}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


GC_FIGURES = ("collections", "full", "total_ms", "longest_ms")
LOOP_FIGURES = ("checks", "late", "total_lag_ms", "longest_ms", "longest_running")


def gc_step(before: dict[str, float] | None, after: dict[str, float] | None) -> dict[str, float] | None:
    """A step's collections, full ones and pause time (differences), and the longest pause since start."""
    if before is None or after is None:
        return None
    return {"collections": after["collections"] - before["collections"], "full": after["full"] - before["full"],
            "total_ms": round(after["total_ms"] - before["total_ms"], 1), "longest_ms_since_start": after["longest_ms"]}


def loop_step(before: dict[str, float] | None, after: dict[str, float] | None) -> dict[str, float] | None:
    """A step's event-loop wake-ups, those late by more than 0.1 s and their lag in all (differences), and the
    longest lag since start with the share of it the loop's thread ran."""
    if before is None or after is None:
        return None
    return {"checks": after["checks"] - before["checks"], "late": after["late"] - before["late"],
            "total_lag_ms": round(after["total_lag_ms"] - before["total_lag_ms"], 1),
            "longest_ms_since_start": after["longest_ms"], "longest_running": after["longest_running"]}


def ari_traffic(status_file: Path | None) -> tuple[int, int] | None:
    """The controller's ARI requests and events so far, from its live status file (written every second);
    None when there is none or it does not count them (an older controller)."""
    counts = status_figures(status_file, "ari", ("requests", "events"))
    return None if counts is None else (int(counts["requests"]), int(counts["events"]))


async def channel_count(control: PbxControl) -> int | None:
    """Asterisk's active channels now; None when it did not answer (an overloaded PBX may not at once: a
    missed sample is not a failure of the step)."""
    try:
        return active_channels(await asyncio.to_thread(control.cli, "core show channels count", 5))
    except Exception:  # noqa: BLE001
        return None


class _Peak:
    def __init__(self, control: PbxControl) -> None:
        self._control = control
        self.peak: int | None = None
        self._stop = asyncio.Event()

    async def run(self) -> None:
        while not self._stop.is_set():
            count = await channel_count(self._control)
            if count is not None:
                self.peak = count if self.peak is None else max(self.peak, count)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)

    def stop(self) -> None:
        self._stop.set()


def queue_log_waits(text: str, since: float) -> list[float]:
    """Hold times (s) of app_queue's CONNECT lines after ``since`` (epoch seconds): ``time|call|queue|
    agent|CONNECT|holdtime|bridged|ringtime``."""
    waits = []
    for line in text.splitlines():
        parts = line.split("|")
        if len(parts) >= 6 and parts[4] == "CONNECT" and parts[0].isdigit() and int(parts[0]) >= since:
            waits.append(float(parts[5]))
    return waits


async def drain(control: PbxControl, within_s: float = DRAIN_S, settle_s: float = SETTLE_S) -> None:
    """Start a step on an idle PBX: wait for the channels of the one before to end, hang up any left after
    ``within_s`` (a collapsed step leaves calls SIPp gave up on), then let the box cool down. Without it the
    probes after a collapse collapsed too: the full sweep's app_queue failed 10.6-12.5 calls/s right after
    15/s although it had sustained 10/s before."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while True:
        count = await channel_count(control)
        if count == 0:
            break
        if loop.time() > deadline:
            print(f"[journey] {count} channels still up {within_s:g} s after the step: hanging them up",
                  file=sys.stderr, flush=True)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(control.cli, "channel request hangup all", 10)
            break
        await asyncio.sleep(1.0)
    await asyncio.sleep(COOL_DOWN_S)
    await settle(within_s=settle_s)


async def settle(quiet: float = QUIET_SHARE, within_s: float = SETTLE_S) -> None:
    """Wait until the box's CPU is mostly idle: after a collapse the agents' SIPp (and Asterisk) can work off
    retransmissions for a while with no channel left, and the probes that ran then cost more per call than
    higher rates before the collapse (the 10:45 full sweep's 2.8 and 3.5 calls/s after app_queue's 20)."""
    if within_s <= 0:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    share = 1.0
    while loop.time() < deadline:
        before = box_ticks()
        await asyncio.sleep(1.0)
        share = busy_share(before, box_ticks())
        if share < quiet:
            return
    print(f"[journey] the box is still {share:.0%} busy {within_s:g} s after the step; starting anyway",
          file=sys.stderr, flush=True)


# Channels one call holds on average, both paths: the caller's and the agent's (counted over the whole call,
# as the slack for the ring and the farewell). Both record with MixMonitor, an audio hook on a channel; the
# journey's snoop channel of earlier sessions was a third channel while the agent talked.
CHANNELS_PER_CALL = 2.0


async def run_step(setup: StepSetup, path: str, rate: float) -> JourneyStep:
    """One step of ``path`` at ``rate`` calls/s for ``setup.seconds``, started with every agent free."""
    floor = setup.floor
    await drain(setup.control, settle_s=setup.settle_s)
    await floor.wait_available(setup.config_file, 60)
    dialed = setup.hotline_number if path == "journey" else f"8{setup.hotline_number}"
    started = datetime.now(UTC) - timedelta(seconds=0.5)
    epoch = time.time()
    cpu0 = (cpu_seconds(setup.asterisk_pid), cpu_seconds(setup.controller_pid))
    stat0 = proc_stat()
    box0, steal0, pressure0 = box_ticks(stat0), steal_ticks(stat0), cpu_pressure_us()
    rows0 = journal_rows(setup.journal)
    ari0 = ari_traffic(setup.status_file) if path == "journey" else None
    gc0 = status_figures(setup.status_file, "gc", GC_FIGURES) if path == "journey" else None
    loop0 = status_figures(setup.status_file, "loop", LOOP_FIGURES) if path == "journey" else None
    peak = _Peak(setup.control)
    poller = asyncio.create_task(peak.run())
    workdir = setup.workdir / f"{path}-{rate:g}-{int(epoch)}"
    try:
        procs = start_callers(workdir, setup.control.settings.pbx.sip_port, dialed, rate, setup.seconds,
                              setup.share, setup.max_call_s)
        limit = setup.seconds + setup.max_call_s + 40
        runs: list[CallerRun] = list(await asyncio.gather(*(asyncio.to_thread(collect, kind, n, proc, folder, limit)
                                                             for kind, n, proc, folder in procs)))
    finally:
        peak.stop()
        await poller
    wall = time.time() - epoch
    await asyncio.sleep(1.5)  # the journal writer's last batch
    cpu1 = (cpu_seconds(setup.asterisk_pid), cpu_seconds(setup.controller_pid))
    stat1 = proc_stat()
    box1, steal1, pressure1 = box_ticks(stat1), steal_ticks(stat1), cpu_pressure_us()
    rows1 = journal_rows(setup.journal)
    ari1 = ari_traffic(setup.status_file) if ari0 is not None else None
    gc1 = status_figures(setup.status_file, "gc", GC_FIGURES) if gc0 is not None else None
    loop1 = status_figures(setup.status_file, "loop", LOOP_FIGURES) if loop0 is not None else None
    facts: JourneyFacts | None = None
    recorded: int | None
    if path == "journey":
        facts = journal_facts(setup.journal, started, dialed)
        waits = facts.queue_wait_s
        recorded, connected = facts.recorded, facts.reached_agent
    else:
        text = setup.queue_log.read_text(errors="replace") if setup.queue_log.exists() else ""
        waits = queue_log_waits(text, epoch - 1)
        connected = len(waits)
        recorded = (None if setup.baseline_recordings is None
                    else recordings_since(setup.baseline_recordings, epoch - 1))
    planned = sum(r.planned for r in runs)
    completed = sum(r.ended_by_pbx for r in runs)
    answers = [t for r in runs for t in r.answer_ms]
    retrans = sum(r.counters.retransmissions + r.answer_resends for r in runs)
    key_ms = facts.key_prompt_ms if facts else []
    greeting_ms = facts.greeting_ms if facts else []
    reached = facts.reached_agent if facts else None
    if reached is not None:
        completed = min(completed, reached)
    obs = Observation(rate=rate, planned=planned, successful=completed, failed=planned - completed,
                      retransmissions=retrans, answer_p95_ms=percentile(answers, 95), peak_channels=peak.peak,
                      call_seconds=setup.call_seconds, key_prompt_p95_ms=percentile(key_ms, 95),
                      greeting_p95_ms=percentile(greeting_ms, 95),
                      channels_per_call=CHANNELS_PER_CALL)

    def delta(i: int) -> float | None:
        a, b = cpu0[i], cpu1[i]
        return None if a is None or b is None else round(b - a, 2)

    rss = rss_kib(setup.controller_pid) if setup.controller_pid else None
    return JourneyStep(
        path=path, rate=rate, seconds=setup.seconds, planned=planned, completed=completed, reached_agent=reached,
        retransmissions=retrans, answer_ms=Spread.of(answers), key_prompt_ms=Spread.of(key_ms),
        queue_wait_s=Spread.of(waits), ring_answer_ms=Spread.of(floor.ring_to_answer_s(epoch), 1000),
        peak_channels=peak.peak, asterisk_cpu_s=delta(0), controller_cpu_s=delta(1),
        controller_rss_mib=None if rss is None else round(rss / 1024, 1),
        journal_rows_per_s=round((rows1 - rows0) / wall, 1) if wall > 0 else None, wall_s=round(wall, 1),
        verdict=judge(obs, setup.thresholds),
        password_checks=facts.password_checks if facts else None, password_check_cpu_s=setup.password_check_cpu_s,
        key_prompt_after_password_ms=Spread.of(facts.password_key_prompt_ms if facts else []),
        key_prompt_other_ms=Spread.of(facts.other_key_prompt_ms if facts else []),
        recorded=recorded, connected=connected, greeting_ms=Spread.of(greeting_ms),
        ari_requests=None if ari0 is None or ari1 is None else ari1[0] - ari0[0],
        ari_events=None if ari0 is None or ari1 is None else ari1[1] - ari0[1],
        box_busy=round(busy_share(box0, box1), 3),
        cpu_pressure=None if pressure0 is None or pressure1 is None or wall <= 0
        else round((pressure1 - pressure0) / 1e6 / wall, 3), gc=gc_step(gc0, gc1),
        loop=loop_step(loop0, loop1),
        box_steal=round((steal1 - steal0) / (box1[1] - box0[1]), 3) if box1[1] > box0[1] else None,
        callers=[{"kind": r.kind, "planned": r.planned, "events": r.events, "exit": r.exit_code,
                  "failed": r.counters.failed, "causes": r.counters.failure_causes} for r in runs])


def step_json(step: JourneyStep) -> dict[str, Any]:
    data = asdict(step)
    data["verdict"] = {"sustained": step.sustained, "failed": list(step.verdict.failed),
                       "explain": step.verdict.explain()}
    data["asterisk_cpu_ms_per_call"] = step.per_call_ms(step.asterisk_cpu_s)
    data["controller_cpu_ms_per_call"] = step.per_call_ms(step.controller_cpu_s)
    data["controller_cpu_ms_per_call_without_password_checks"] = step.per_call_ms(
        step.controller_cpu_without_passwords_s)
    data["ari_requests_per_call"] = step.per_call(step.ari_requests)
    data["ari_events_per_call"] = step.per_call(step.ari_events)
    return data
