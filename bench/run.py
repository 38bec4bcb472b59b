"""Entry point of ``make bench``: find the sustained rate of the hotline and of the dialplan baseline, report both.

    python -m bench.run [--full] [--rates 10,20,40,60,80,100] [--seconds 8] [--hold 3] [--out bench/results]
                        [--min-step 10] [--max-probes 2] [--answer-p95-ms 100] [--key-p95-ms 200]
                        [--channel-tolerance 1.2]

Brings up a private PBX instance (``pbx_session``), climbs the rates with one SIPp load step per (rate,
path) (``sipp_load``) until a path's step is not sustained (``criterion``), then bisects each path between
its last sustained and first failing rate (``search``). Prints the Markdown report and writes
``<out>/<timestamp>.json`` and ``.md`` (``report``). Progress goes to stderr, the report to stdout.
The short version (default, ``make bench``) takes minutes; ``--full`` (``make bench FULL=1``) uses steps of
60 s, more rates and a finer bisection, as the figures to quote need.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from bench.criterion import Thresholds
from bench.pbx_session import BenchPbx, BenchRun, ChannelPeak, on_bench_pbx, peak_rss_kib, rss_kib
from bench.report import PATHS, Phase, StepResult, markdown, step_result, summarize, to_json
from bench.search import bisect, bounds
from bench.sipp_load import SIPP, run_load

IDLE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Mode:
    """Defaults of a run length: ``make bench`` (short) or ``make bench FULL=1``."""

    rates: str
    seconds: int
    min_step: int
    max_probes: int


SHORT = Mode(rates="10,20,40,60,80,100", seconds=8, min_step=10, max_probes=2)
FULL = Mode(rates="10,20,40,60,80,100,120,150", seconds=60, min_step=5, max_probes=4)


def progress(line: str) -> None:
    print(f"[bench] {line}", file=sys.stderr, flush=True)


def parse_rates(text: str) -> list[int]:
    try:
        rates = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"rates must be whole numbers and commas, not {text!r}") from None
    if not rates or rates[0] < 1:
        raise argparse.ArgumentTypeError("rates must be at least 1 call/s")
    return rates


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _hold(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError("hold must be within 0..60 s")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help=f"the full sweep: rates {FULL.rates}, {FULL.seconds} s steps, bisection down to "
                             f"{FULL.min_step} calls/s in at most {FULL.max_probes} probes (default: the short "
                             f"version, rates {SHORT.rates}, {SHORT.seconds} s steps, {SHORT.min_step} calls/s, "
                             f"{SHORT.max_probes} probes)")
    parser.add_argument("--rates", type=parse_rates, help="call rates to climb, calls/s, comma-separated")
    parser.add_argument("--seconds", type=_positive_int,
                        help="seconds of load per rate (sustained figures to quote need at least 60)")
    parser.add_argument("--hold", type=_hold, default=3.0,
                        help="seconds the caller stays after the answer before hanging up (default 3)")
    parser.add_argument("--min-step", type=_positive_int, help="bisect until the knee is known to this many calls/s")
    parser.add_argument("--max-probes", type=int, help="at most this many bisection steps per path (0: no bisection)")
    parser.add_argument("--answer-p95-ms", type=_positive_float, default=100.0,
                        help="sustained: p95 INVITE->200 at most this (default 100)")
    parser.add_argument("--key-p95-ms", type=_positive_float, default=200.0,
                        help="sustained: p95 key->next prompt at most this, where keys are sent (default 200)")
    parser.add_argument("--channel-tolerance", type=float, default=1.2,
                        help="sustained: peak channels at most rate x hold x this, + 5 (default 1.2)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="where reports go")
    parser.add_argument("--instance", default="bench", help="name of the benchmark's own Asterisk instance")
    args = parser.parse_args(argv)
    mode = FULL if args.full else SHORT
    if args.rates is None:
        args.rates = parse_rates(mode.rates)
    for name in ("seconds", "min_step", "max_probes"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(mode, name))
    if args.max_probes < 0:
        parser.error("--max-probes must be 0 or more")
    try:
        args.thresholds = Thresholds(answer_p95_ms=args.answer_p95_ms, key_prompt_p95_ms=args.key_p95_ms,
                                     channel_tolerance=args.channel_tolerance)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def _wait_idle(pbx: BenchPbx) -> None:
    """Start every step from an empty PBX, so one step's stragglers do not load the next."""
    if pbx.wait_idle(IDLE_TIMEOUT):
        return
    progress(f"channels still up after {IDLE_TIMEOUT:.0f} s: hanging them up")
    pbx.control.cli("channel request hangup all")
    pbx.wait_idle(15)


@dataclass(frozen=True)
class Load:
    """What every step of a run shares."""

    seconds: int
    hold: float
    thresholds: Thresholds
    workdir: Path


def measure(pbx: BenchPbx, path: str, rate: int, load: Load, phase: Phase = "climb") -> StepResult:
    """One load step of ``path`` at ``rate``, started from an idle PBX, with its verdict."""
    number = pbx.settings.hotline_number
    numbers = {"hotline": number, "baseline": f"7{number}"}
    _wait_idle(pbx)
    progress(f"{path}: {rate} calls/s for {load.seconds} s" + (" (bisecting)" if phase == "bisect" else ""))
    with ChannelPeak(pbx) as peak:
        run = run_load(load.workdir / f"{path}-{rate}", pbx.settings.pbx.sip_port, numbers[path], rate,
                       load.seconds, load.hold)
    pid = pbx.controller_pid
    rss = rss_kib(pid) if path == "hotline" and pid is not None else None
    peak_rss = peak_rss_kib(pid) if path == "hotline" and pid is not None else None
    c = run.counters
    step = step_result(path, rate, load.seconds, run.target_calls, c.created, c.successful, run.answer_ms,
                       peak_channels=peak.peak, remote_hangups=c.remote_hangups,
                       retransmissions=c.retransmissions, sipp_exit=run.exit_code,
                       controller_rss_kib=rss, controller_peak_rss_kib=peak_rss,
                       failure_causes=c.failure_causes, answer_resends=run.answer_resends,
                       sipp_peak_calls=c.peak_current_calls, call_seconds=load.hold, phase=phase,
                       thresholds=load.thresholds)
    p95 = "-" if step.p95_ms is None else f"{step.p95_ms:.1f}"
    progress(f"{path}: {rate} calls/s: {step.successful}/{step.planned} ok, {step.failed} failed, "
             f"p95 {p95} ms, peak channels {step.peak_channels}, SIPp exit {run.exit_code}: "
             f"{step.verdict.explain()}")
    return step


def run_steps(pbx: BenchPbx, rates: Sequence[int], load: Load) -> list[StepResult]:
    """Rates in rising order; at each rate both paths back to back, so a change in the shared box's
    background load hits both alike. A path stops climbing after its first rate that is not sustained."""
    climbing = list(PATHS)
    steps: list[StepResult] = []
    for rate in rates:
        for path in list(climbing):
            step = measure(pbx, path, rate, load)
            steps.append(step)
            if not step.sustained:
                progress(f"{path}: stops climbing at {rate} calls/s ({', '.join(step.verdict.failed)})")
                climbing.remove(path)
        if not climbing:
            break
    return steps


def bisect_knees(pbx: BenchPbx, steps: Sequence[StepResult], load: Load, min_step: int,
                 max_probes: int) -> list[StepResult]:
    """Per path, the bisection probes between its last sustained and first failing rate of ``steps``."""
    probes: list[StepResult] = []
    for path in PATHS:
        known = bounds(s for s in steps if s.path == path)
        if known.first_failing is None or max_probes == 0:
            continue
        result = bisect(partial(measure, pbx, path, load=load, phase="bisect"), known.last_sustained,
                        known.first_failing, min_step=min_step, max_probes=max_probes)
        probes += result.probes
        progress(f"{path}: knee between {result.bounds.last_sustained or 0} and {result.bounds.first_failing} "
                 f"calls/s" + (" (probe limit reached)" if result.exhausted else ""))
    return probes


def _sipp_version() -> str:
    try:
        out = subprocess.run([SIPP, "-v"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return next((line.strip() for line in out.splitlines() if "SIPp" in line), "unknown")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run = BenchRun.begin("bench", args.out, progress, stem_prefix="")
    if run is None:
        return 3
    data_dir = run.data_dir

    def work(pbx: BenchPbx) -> tuple[list[StepResult], str]:
        load = Load(args.seconds, args.hold, args.thresholds, data_dir / "sipp")
        steps = run_steps(pbx, args.rates, load)
        return steps + bisect_knees(pbx, steps, load, args.min_step, args.max_probes), pbx.settings.hotline_number

    outcome = on_bench_pbx(run, args.instance, data_dir, progress, work)
    if outcome.result is None:
        return outcome.exit_code
    steps, number = outcome.result
    params: dict[str, Any] = {
        **run.params(), "rates": args.rates, "seconds": args.seconds, "hold": args.hold,
        "number": number, "sipp": _sipp_version(), "full": args.full,
        "criterion": asdict(args.thresholds),
        "search": {"min_step": args.min_step, "max_probes": args.max_probes},
    }
    summary = summarize(steps, max(args.rates))
    text = markdown(steps, summary, params)
    stem = run.stem
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps(to_json(steps, summary, params), indent=2) + "\n",
                                         encoding="utf-8")
    print(text)
    progress(f"wrote {stem}.md and {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
