"""The benchmark's own PBX: a private Asterisk instance with the baseline extension, plus the controller.

Built from the same pieces as the PBX tests (``tests/pbx/harness.py``): settings file on free loopback
ports, credentials, prompts, journal migration, ``PbxControl`` for Asterisk and ``Controller`` for
``hotline run``. Everything is torn down on the way out, also when the run fails half-way.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine.errors import PbxUnreachable
from engine.pbx.control import PbxControl
from engine.pbx.credentials import for_settings
from engine.prompts.build import build_prompts
from engine.settings import Settings, load_settings
from engine.store.migrate import upgrade
from tests.pbx.harness import Controller, settings_toml

Progress = Callable[[str], None]


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
    control = PbxControl(settings, for_settings(settings))
    if control.is_running():
        # PbxControl.start would reload someone else's instance; never touch an Asterisk we did not start.
        raise BenchSetupError(f"an Asterisk instance named {instance!r} is already running; "
                              "stop it or pass another --instance")
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
