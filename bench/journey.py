"""Entry point of ``make bench``: the whole journey through the controller against Asterisk's app_queue.

    python -m bench.journey [--full] [--rates 1,2,4] [--seconds 20] [--agents 40] [--talk 4] [--acw 1]
                            [--share 0.25] [--max-probes 1] [--profile-rate R] [--out bench/results]

Brings up a private PBX instance with the bench-only app_queue baseline (``pbx_session``), the shipped
flow open all day, the sample accounts, N agents made by ``hotline agent import`` as registered SIPp
softphones (``journey_agents``); then, rate by rate, a step of each path (``journey_step``) until a path's
step is not sustained, bisects each path's knee (``bench.search``), and writes Markdown, JSON and a PNG
chart to ``<out>/journey-<timestamp>.*`` (``journey_report``). ``--profile-rate R`` then runs one more
journey step at R with py-spy attached to the controller (``<out>/journey-<timestamp>-flame.svg``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.criterion import Thresholds
from bench.journey_agents import AgentFloor, member_lines, provision
from bench.journey_measure import password_check_cpu_s, pid_from_file
from bench.journey_report import chart, knee, markdown, to_json
from bench.journey_step import PATH_NAMES, JourneyStep, StepSetup, run_step
from bench.pbx_session import BenchPbx, BenchRun, on_bench_pbx
from bench.run import parse_rates
from engine.app import LIVE_STATUS_FILE
from engine.settings import Settings
from engine.store.database import make_engine
from tests.pbx.harness import hotline
from tests.pbx.session import SHIPPED_FLOWS


@dataclass(frozen=True)
class Mode:
    rates: str
    seconds: int
    agents: int
    talk: float
    max_probes: int


SHORT = Mode(rates="1,2,4", seconds=20, agents=30, talk=4.0, max_probes=0)
FULL = Mode(rates="2,5,10,15,20,25,30", seconds=60, agents=200, talk=10.0, max_probes=3)


def progress(line: str) -> None:
    print(f"[journey] {line}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.journey", description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help=f"full sweep: rates {FULL.rates}, {FULL.seconds} s "
                        f"steps, {FULL.agents} agents talking {FULL.talk:g} s (default: rates {SHORT.rates}, "
                        f"{SHORT.seconds} s, {SHORT.agents} agents, {SHORT.talk:g} s)")
    parser.add_argument("--rates", type=parse_rates)
    parser.add_argument("--seconds", type=int)
    parser.add_argument("--agents", type=int)
    parser.add_argument("--talk", type=float, help="seconds an agent talks before hanging up")
    parser.add_argument("--acw", type=float, default=1.0, help="after-call work seconds (default 1)")
    parser.add_argument("--share", type=float, default=0.25, help="share of self-service callers (default 0.25)")
    parser.add_argument("--max-probes", type=int, help="bisection steps per path (0: none)")
    parser.add_argument("--paths", default=",".join(PATH_NAMES), help="paths to run (default both)")
    parser.add_argument("--profile-rate", type=float, help="after the sweep, profile a journey step at this rate")
    parser.add_argument("--answer-p95-ms", type=float, default=100.0)
    parser.add_argument("--key-p95-ms", type=float, default=200.0)
    parser.add_argument("--channel-tolerance", type=float, default=1.2)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--instance", default="benchj")
    args = parser.parse_args(argv)
    mode = FULL if args.full else SHORT
    args.rates = args.rates or parse_rates(mode.rates)
    for name in ("seconds", "agents", "talk", "max_probes"):
        if getattr(args, name) is None:
            setattr(args, name, getattr(mode, name))
    args.paths = [p for p in args.paths.split(",") if p]
    if any(p not in PATH_NAMES for p in args.paths) or not 0 <= args.share <= 1:
        parser.error(f"paths are {', '.join(PATH_NAMES)}; share is within 0..1")
    return args


def open_all_day(folder: Path) -> Path:
    """The shipped flow, open round the clock (the bench runs at any hour); everything else as shipped."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (SHIPPED_FLOWS / "hotline.yaml").read_text(encoding="utf-8")
    (folder / "hotline.yaml").write_text(re.sub(r'(daily|holiday): "[^"]*"', r'\1: "00:00-24:00"', text),
                                         encoding="utf-8")
    return folder


def settings_head(data_dir: Path, acw_s: float) -> str:
    """The settings lines of a run through the shipped flow (open all day, in ``data_dir``) with ``acw_s``."""
    return f'flows_dir = "{open_all_day(data_dir / "flows")}"\nacw_seconds = {acw_s}\n'


def nominal_call_s(share: float, talk: float) -> float:
    """How long a call holds its channels at low load: IVR to the queue (~8 s after 0, ~20 s through the
    look-up), the ring, the talk. The channel condition allows 1.2 times the rate times this."""
    return (1 - share) * 8 + share * 20 + 1 + talk


async def sweep(pbx: BenchPbx, args: argparse.Namespace, workdir: Path, out_stem: Path) -> list[JourneyStep]:
    settings = pbx.settings
    accounts = provision(pbx.config_file, workdir / "agents", args.agents)
    members = pbx.control.config_dir / "hotline-bench-members.conf"
    members.write_text(member_lines(accounts, args.acw), encoding="utf-8")
    pbx.control.cli("module reload app_queue.so")
    layout = pbx.control.layout
    async with AgentFloor(accounts, settings.pbx.sip_port, args.talk, workdir / "phones") as floor:
        progress(f"{len(accounts)} agents registered; signing them in")
        await floor.sign_in(pbx.config_file, timeout_s=120)
        setup = StepSetup(
            control=pbx.control, config_file=pbx.config_file, journal=make_engine(settings.db_url),
            hotline_number=settings.hotline_number, controller_pid=pbx.controller_pid,
            asterisk_pid=pid_from_file(layout.inside(layout.dirs.run / "asterisk.pid")),
            queue_log=layout.inside(layout.dirs.log / "queue_log"), floor=floor, workdir=workdir / "sipp",
            seconds=args.seconds, share=args.share, talk_s=args.talk,
            call_seconds=nominal_call_s(args.share, args.talk), max_call_s=120,
            thresholds=Thresholds(answer_p95_ms=args.answer_p95_ms, key_prompt_p95_ms=args.key_p95_ms,
                                  channel_tolerance=args.channel_tolerance),
            password_check_cpu_s=password_check_cpu_s(),
            baseline_recordings=layout.inside(layout.dirs.spool / "monitor" / "hotline-bench"),
            status_file=settings.data_dir / LIVE_STATUS_FILE)
        steps: list[JourneyStep] = []

        async def measure(path: str, rate: float) -> JourneyStep:
            progress(f"{path}: {rate:g} calls/s for {args.seconds} s")
            step = await run_step(setup, path, rate)
            progress(f"{path}: {rate:g}/s: {step.completed}/{step.planned} done, p95 INVITE->200 "
                     f"{step.answer_ms.p95}, controller CPU {step.per_call_ms(step.controller_cpu_s)} ms/call: "
                     f"{step.verdict.explain()}; recorded {step.recorded} of {step.connected} connected")
            steps.append(step)
            return step

        climbing = list(args.paths)
        for rate in args.rates:
            for path in list(climbing):
                if not (await measure(path, rate)).sustained:
                    climbing.remove(path)
            if not climbing:
                break
        for path in args.paths:
            for _ in range(args.max_probes):
                low, high = knee(steps, path)
                if high is None or high - (low or 0) <= 1:
                    break
                await measure(path, round(((low or 0) + high) / 2, 1))
        if args.profile_rate:
            await profile(setup, pbx.controller_pid, args.profile_rate, out_stem)
        return steps


async def profile(setup: StepSetup, pid: int | None, rate: float, out_stem: Path) -> None:
    """One journey step at ``rate`` with py-spy recording the controller (a flame graph SVG)."""
    spy = py_spy()
    if pid is None or spy is None:
        progress("py-spy not available: no profile (pip install py-spy)")
        return
    svg = out_stem.parent / f"{out_stem.name}-flame.svg"
    duration = setup.seconds + 20
    proc = await asyncio.create_subprocess_exec(
        spy, "record", "-p", str(pid), "-o", str(svg), "-d", str(duration), "-r", "50", "--nonblocking",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    progress(f"profiling the controller at {rate:g} calls/s for {duration} s -> {svg}")
    await run_step(setup, "journey", rate)
    _, err = await proc.communicate()
    if proc.returncode != 0:
        progress(f"py-spy failed: {err.decode(errors='replace')[-300:]}")


def py_spy() -> str | None:
    """py-spy on the PATH or next to this Python (the venv's, from PyPI)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run = BenchRun.begin("journey", args.out, progress)
    if run is None:
        return 3
    data_dir, stem = run.data_dir, run.stem

    def load_sample(settings: Settings, config_file: Path) -> None:
        hotline(config_file, "data", "load", "--sample")

    outcome = on_bench_pbx(run, args.instance, data_dir, progress,
                           lambda pbx: asyncio.run(sweep(pbx, args, data_dir, stem)),
                           settings_head=settings_head(data_dir, args.acw), before_controller=load_sample)
    if outcome.result is None:
        return outcome.exit_code
    steps = outcome.result
    params: dict[str, Any] = {
        "command": " ".join(["python -m bench.journey", *(sys.argv[1:] if argv is None else argv)]),
        **run.params(), "agents": args.agents,
        "answer_after_s": 0.3, "talk_s": args.talk, "acw_s": args.acw, "seconds": args.seconds,
        "share": args.share, "rates": args.rates, "full": args.full,
    }
    text = markdown(steps, params)
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps(to_json(steps, params), indent=2, default=str) + "\n",
                                         encoding="utf-8")
    chart(steps, stem.with_suffix(".png"))
    print(text)
    progress(f"wrote {stem}.md, .json and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
