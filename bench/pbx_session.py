"""The benchmark's own PBX: a private Asterisk instance with the baseline extension, plus the controller.

Built from the same pieces as the PBX tests (``tests/pbx/harness.py``): settings file on free loopback
ports, credentials, prompts, journal migration, ``PbxControl`` for Asterisk and ``Controller`` for
``hotline run``. Everything is torn down on the way out, also when the run fails half-way.

What the three benchmarks (``bench.run``, ``bench.journey``, ``bench.soak``) share around that session lives
here too: ``BenchRun`` (when, how long, the box's load, Asterisk's version for the report), ``on_bench_pbx``
(the session with the benchmarks' exit codes and what becomes of the data folder) and the agents' sign-in
(``agents_in``, ``until_agents``, ``sign_in_agents``: wait for the softphones' registrations as the
controller sees them, then ``hotline agent login``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

from engine.errors import HotlineError, PbxUnreachable
from engine.pbx.control import PbxControl
from engine.pbx.credentials import FILE_NAME, PbxCredentials, for_settings, read_claim
from engine.pbx.layout import PbxLayout
from engine.prompts.build import build_prompts
from engine.settings import Settings, load_settings
from engine.store.migrate import upgrade
from tests.pbx.harness import Controller, hotline, settings_toml

Progress = Callable[[str], None]
T = TypeVar("T")
# Every bench run's data folder is a fresh temporary folder named so.
BENCH_FOLDER_PREFIX = "hotline-"


class BenchSetupError(RuntimeError):
    """The benchmark cannot bring up its PBX (e.g. an instance of the same name is already running)."""


def active_channels(cli_output: str) -> int | None:
    """The number in ``N active channel(s)`` of ``core show channels count``; None when absent."""
    for line in cli_output.splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == "active" and words[2].startswith("channel") and words[0].isdigit():
            return int(words[0])
    return None


def _status_kib(pid: int, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


def rss_kib(pid: int) -> int | None:
    """Resident set size of a process in KiB (VmRSS), None when it is gone."""
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int | None:
    """The highest resident set size the process ever had, in KiB (VmHWM), None when it is gone."""
    return _status_kib(pid, "VmHWM")


@dataclass
class BenchPbx:
    settings: Settings
    control: PbxControl
    controller: Controller
    config_file: Path

    @property
    def controller_pid(self) -> int | None:
        return self.controller.proc.pid if self.controller.proc is not None else None

    def channels(self) -> int | None:
        try:
            return active_channels(self.control.cli("core show channels count", timeout=5))
        except PbxUnreachable:
            return None

    def wait_idle(self, timeout: float) -> bool:
        """Poll until no channel is left (the previous step's calls are gone); False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.channels() == 0:
                return True
            time.sleep(0.5)
        return False


class ChannelPeak:
    """Polls the channel count in a thread while a load step runs and keeps the highest value seen.

    Each poll is one ``asterisk -rx`` process, so the period stays at a second to keep the probe's own
    CPU use small next to the load on a 2-core box.
    """

    def __init__(self, pbx: BenchPbx, period: float = 1.0) -> None:
        self._pbx = pbx
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="channel-peak", daemon=True)
        self.peak: int | None = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            count = self._pbx.channels()
            if count is not None:
                self.peak = count if self.peak is None else max(self.peak, count)
            self._stop.wait(self._period)

    def __enter__(self) -> ChannelPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@contextmanager
def bench_pbx(instance: str, data_dir: Path, progress: Progress, settings_head: str = "",
              before_controller: Callable[[Settings, Path], None] | None = None) -> Iterator[BenchPbx]:
    """A running PBX instance ``instance`` (data in ``data_dir``) with the controller attached.

    ``settings_head``: top-level settings lines (before the ``[pbx]`` table), e.g. ``acw_seconds = 1``;
    ``before_controller(settings, config_file)`` runs once Asterisk is up, before the controller starts."""
    config_file = data_dir / "hotline.toml"
    # settings_toml ends inside the [pbx] table, so the baseline switch can simply follow it.
    config_file.write_text(settings_head + settings_toml(data_dir, instance) + "bench_baseline = true\n")
    settings = load_settings(config_file, environ={})
    # Only its CLI is used before the instance is known to be ours: no ARI/AMI login is needed for that.
    if PbxControl(settings, PbxCredentials("", "", "", "")).is_running():
        # PbxControl.start would reload someone else's instance; never touch an Asterisk we did not start.
        raise BenchSetupError(f"an Asterisk instance named {instance!r} is already running; "
                              "stop it or pass another --instance")
    _clear_leftovers(PbxLayout.from_settings(settings), progress)
    control = PbxControl(settings, for_settings(settings))
    written = build_prompts(control.layout.prompt_dir)
    if written:
        progress(f"rendered {len(written)} missing prompts")
    upgrade(settings.db_url)
    controller = Controller(config_file, settings)
    ours = True
    try:
        if not control.start(progress):
            ours = False  # someone started the same instance since the check above: leave it alone
            raise BenchSetupError(f"an Asterisk instance named {instance!r} started meanwhile; not ours")
        if before_controller is not None:
            before_controller(settings, config_file)
        progress("starting the controller")
        controller.start()
        yield BenchPbx(settings, control, controller, config_file)
    finally:
        try:
            _stop_controller(controller, progress)
        finally:
            if ours:
                progress(f"stopping Asterisk (instance {instance})")
                control.stop()
                for folder in control.layout.instance_dirs():
                    shutil.rmtree(folder, ignore_errors=True)


def _clear_leftovers(layout: PbxLayout, progress: Progress) -> None:
    """Remove a stopped instance an earlier bench run left claimed (one stopped before it could clean up):
    its claim names that run's data folder, which a failed run keeps, so the instance would be refused as
    another hotline's. Only a claim of a bench folder (``hotline-<bench>-*`` in the temporary folder) is
    cleared; an operator's instance passed with ``--instance`` is never touched."""
    try:
        claim = read_claim(layout.config_dir / FILE_NAME)
    except HotlineError:
        return  # damaged: `hotline` itself says so when it starts
    if claim is None:
        return
    owner = Path(claim.owner)
    if owner.parent == Path(tempfile.gettempdir()) and owner.name.startswith(BENCH_FOLDER_PREFIX):
        progress(f"removing instance leftovers of an earlier bench run (its data folder: {owner})")
        for folder in layout.instance_dirs():
            shutil.rmtree(folder, ignore_errors=True)


def _stop_controller(controller: Controller, progress: Progress) -> None:
    proc = controller.proc
    if proc is None:
        return
    progress("stopping the controller")
    try:
        controller.stop()
    except subprocess.TimeoutExpired:
        progress("the controller did not stop within 20 s: killing it")
        proc.kill()
        proc.wait(timeout=10)


# -- what the benchmarks share around the session ----------------------------------------------------------


@dataclass
class BenchRun:
    """One benchmark run: its data folder, its results' stem (``<out>/<stem_prefix><timestamp>``) and the facts
    for its report (start, duration, the box's load before and after, Asterisk's version)."""

    data_dir: Path
    stem: Path
    started: datetime
    t0: float = field(default_factory=time.monotonic)
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)
    asterisk: str = "unknown"

    @classmethod
    def begin(cls, name: str, out: Path, progress: Progress, stem_prefix: str | None = None) -> BenchRun | None:
        """A new run (a fresh ``hotline-<name>-*`` data folder, ``out`` made), or None when SIPp is missing."""
        if shutil.which("sipp") is None:
            progress("SIPp is not installed: apt-get install sip-tester")
            return None
        started = datetime.now(UTC)
        out.mkdir(parents=True, exist_ok=True)
        prefix = f"{name}-" if stem_prefix is None else stem_prefix
        stem = out / (prefix + started.strftime("%Y%m%d-%H%M%S"))
        return cls(Path(tempfile.mkdtemp(prefix=f"{BENCH_FOLDER_PREFIX}{name}-")), stem, started)

    def params(self) -> dict[str, Any]:
        return {"started": self.started.isoformat(timespec="seconds"),
                "duration_s": round(time.monotonic() - self.t0, 1), "cpus": os.cpu_count(),
                "load_average_before": [round(x, 2) for x in self.load_before],
                "load_average_after": [round(x, 2) for x in os.getloadavg()], "asterisk": self.asterisk}


@dataclass(frozen=True)
class SessionOutcome(Generic[T]):
    """``exit_code`` 0 with ``result``; 1: the bench's PBX could not be set up; 3: the PBX failed."""

    exit_code: int
    result: T | None = None


def on_bench_pbx(run: BenchRun, instance: str, data_dir: Path, progress: Progress, work: Callable[[BenchPbx], T],
                 *, settings_head: str = "", before_controller: Callable[[Settings, Path], None] | None = None,
                 keep_data: bool = False) -> SessionOutcome[T]:
    """``work(pbx)`` on the bench PBX (``bench_pbx``), noting Asterisk's version in ``run``.

    ``data_dir`` is removed after work that finished (unless ``keep_data``: the caller decides later) and kept,
    with a line saying where, after a failure (the controller log and SIPp files tell what happened)."""
    finished = False
    try:
        with bench_pbx(instance, data_dir, progress, settings_head, before_controller) as pbx:
            run.asterisk = pbx.control.cli("core show version").strip()
            result = work(pbx)
        finished = True
        return SessionOutcome(0, result)
    except BenchSetupError as exc:
        progress(str(exc))
        return SessionOutcome(1)
    except HotlineError as exc:
        progress(f"the PBX failed: {exc}")
        return SessionOutcome(3)
    finally:
        if not finished:
            progress(f"kept the run's data (controller log, SIPp files) in {data_dir}")
        elif not keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)


def agents_in(config_file: Path, numbers: set[str]) -> list[dict[str, Any]]:
    """The live status of these agents, as ``hotline status --json`` shows them."""
    result = hotline(config_file, "status", "--json", check=False)
    status = dict(json.loads(result.stdout)) if result.returncode == 0 else {}
    return [a for a in status.get("agents", []) if a.get("agent") in numbers]


async def until_agents(config_file: Path, numbers: set[str], what: str, check: Callable[[dict[str, Any]], bool],
                       timeout_s: float) -> None:
    """Poll the live status until every agent of ``numbers`` passes ``check``; TimeoutError saying how many did."""
    deadline = time.monotonic() + timeout_s
    while True:
        agents = await asyncio.to_thread(agents_in, config_file, numbers)
        if len(agents) == len(numbers) and all(check(a) for a in agents):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{sum(1 for a in agents if check(a))} of {len(numbers)} agents {what} "
                               f"after {timeout_s:.0f} s")
        await asyncio.sleep(1.0)


async def sign_in_agents(config_file: Path, numbers: set[str], timeout_s: float) -> None:
    """Wait until the controller sees every softphone registered, then sign every agent in and wait for it."""
    await until_agents(config_file, numbers, "registered", lambda a: bool(a.get("registered")), timeout_s)
    await asyncio.to_thread(hotline, config_file, "agent", "login", *sorted(numbers), timeout=120)
    await until_agents(config_file, numbers, "available", lambda a: a.get("state") == "available", timeout_s)
