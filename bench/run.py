"""Entry point of ``make bench``: climb call rates on the hotline and on the dialplan baseline, report both.

    python -m bench.run [--rates 10,20,40,60,80,100] [--seconds 8] [--hold 3] [--out bench/results]

Brings up a private PBX instance (``pbx_session``), runs one SIPp load step per (rate, path)
(``sipp_load``), then prints the Markdown table and writes ``<out>/<timestamp>.json`` and ``.md``
(``report``). Progress goes to stderr, the table to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.pbx_session import BenchPbx, BenchSetupError, ChannelPeak, bench_pbx, peak_rss_kib, rss_kib
from bench.report import PATHS, StepResult, markdown, step_result, summarize, to_json
from bench.sipp_load import SIPP, run_load
from engine.errors import HotlineError

IDLE_TIMEOUT = 30.0


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


def _hold(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 60:
        raise argparse.ArgumentTypeError("hold must be within 0..60 s")
    return value


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=parse_rates, default=parse_rates("10,20,40,60,80,100"),
                        help="call rates to climb, calls/s, comma-separated (default 10,20,40,60,80,100)")
    parser.add_argument("--seconds", type=_positive_int, default=8,
                        help="seconds of load per rate (default 8)")
    parser.add_argument("--hold", type=_hold, default=3.0,
                        help="seconds the caller stays after the answer before hanging up (default 3)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"), help="where reports go")
    parser.add_argument("--instance", default="bench", help="name of the benchmark's own Asterisk instance")
    return parser.parse_args(argv)


def _wait_idle(pbx: BenchPbx) -> None:
    """Start every step from an empty PBX, so one step's stragglers do not load the next."""
    if pbx.wait_idle(IDLE_TIMEOUT):
        return
    progress(f"channels still up after {IDLE_TIMEOUT:.0f} s: hanging them up")
    pbx.control.cli("channel request hangup all")
    pbx.wait_idle(15)


def run_steps(pbx: BenchPbx, rates: Sequence[int], seconds: int, hold: float,
              workdir: Path) -> list[StepResult]:
    """Rates in rising order; at each rate both paths back to back, so a change in the shared box's
    background load hits both alike. A path stops climbing after its first rate with a failed call."""
    number = pbx.settings.hotline_number
    numbers = {"hotline": number, "baseline": f"7{number}"}
    climbing = list(PATHS)
    steps: list[StepResult] = []
    for rate in rates:
        for path in list(climbing):
            _wait_idle(pbx)
            progress(f"{path}: {rate} calls/s for {seconds} s")
            with ChannelPeak(pbx) as peak:
                run = run_load(workdir / f"{path}-{rate}", pbx.settings.pbx.sip_port, numbers[path], rate,
                               seconds, hold)
            pid = pbx.controller_pid
            rss = rss_kib(pid) if path == "hotline" and pid is not None else None
            peak_rss = peak_rss_kib(pid) if path == "hotline" and pid is not None else None
            c = run.counters
            step = step_result(path, rate, seconds, run.target_calls, c.created, c.successful, run.answer_ms,
                               peak_channels=peak.peak, remote_hangups=c.remote_hangups,
                               retransmissions=c.retransmissions, sipp_exit=run.exit_code,
                               controller_rss_kib=rss, controller_peak_rss_kib=peak_rss,
                               failure_causes=c.failure_causes)
            steps.append(step)
            p95 = "-" if step.p95_ms is None else f"{step.p95_ms:.1f}"
            progress(f"{path}: {rate} calls/s: {step.successful}/{step.planned} ok, {step.failed} failed, "
                     f"p95 {p95} ms, peak channels {step.peak_channels}, SIPp exit {run.exit_code}")
            if not step.clean:
                progress(f"{path}: stops climbing at {rate} calls/s (SIPp failure causes: "
                         f"{c.failure_causes or 'none, calls not completed'})")
                climbing.remove(path)
        if not climbing:
            break
    return steps


def _sipp_version() -> str:
    try:
        out = subprocess.run([SIPP, "-v"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return next((line.strip() for line in out.splitlines() if "SIPp" in line), "unknown")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which(SIPP) is None:
        progress("SIPp is not installed: apt-get install sip-tester")
        return 3
    started = datetime.now(UTC)
    t0 = time.monotonic()
    load_before = os.getloadavg()
    data_dir = Path(tempfile.mkdtemp(prefix="hotline-bench-"))
    finished = False
    try:
        with bench_pbx(args.instance, data_dir, progress) as pbx:
            asterisk = pbx.control.cli("core show version").strip()
            steps = run_steps(pbx, args.rates, args.seconds, args.hold, data_dir / "sipp")
            number = pbx.settings.hotline_number
        finished = True
    except BenchSetupError as exc:
        progress(str(exc))
        return 1
    except HotlineError as exc:
        progress(f"the PBX failed: {exc}")
        return 3
    finally:
        if finished:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            progress(f"kept the run's data (controller log, SIPp files) in {data_dir}")

    params: dict[str, Any] = {
        "started": started.isoformat(timespec="seconds"), "duration_s": round(time.monotonic() - t0, 1),
        "rates": args.rates, "seconds": args.seconds, "hold": args.hold, "number": number,
        "cpus": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "asterisk": asterisk, "sipp": _sipp_version(),
    }
    summary = summarize(steps, max(args.rates))
    text = markdown(steps, summary, params)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / started.strftime("%Y%m%d-%H%M%S")
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps(to_json(steps, summary, params), indent=2) + "\n",
                                         encoding="utf-8")
    print(text)
    progress(f"wrote {stem}.md and {stem}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
