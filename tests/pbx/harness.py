"""Test harness for PBX tests: a real Asterisk per test session, the controller as a real process.

The managed PBX root is shared with the operator's install; the test session uses its own instance
(own config/run/log folders and free ports), so it never disturbs a running hotline.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

from engine.pbx.credentials import for_settings
from engine.settings import Settings

T = TypeVar("T")
HOTLINE = [str(Path(sys.executable).parent / "hotline")]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_toml(data_dir: Path, instance: str, sip_port: int | None = None) -> str:
    """A settings file for a private instance on free ports."""
    sip = sip_port or free_port(socket.SOCK_DGRAM)
    return (f'data_dir = "{data_dir}"\n\n[pbx]\ninstance = "{instance}"\n'
            f"sip_port = {sip}\nari_port = {free_port()}\nami_port = {free_port()}\n")


def wait_until(check: Callable[[], T | None], timeout: float = 15, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


def env_for(config_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_CONFIG"] = str(config_file)
    return env


def hotline(config_file: Path, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the real `hotline` CLI against the test instance."""
    result = subprocess.run([*HOTLINE, *args], env=env_for(config_file), capture_output=True, text=True,
                            timeout=timeout, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"hotline {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


async def _app_details(settings: Settings) -> dict[str, Any] | None:
    creds = for_settings(settings)
    auth = {"Authorization": aiohttp.encode_basic_auth(creds.ari_user, creds.ari_password)}
    url = f"http://127.0.0.1:{settings.pbx.ari_port}/ari/applications/{settings.stasis_app}"
    try:
        async with aiohttp.ClientSession(headers=auth) as s, s.get(url) as resp:
            return dict(await resp.json()) if resp.status == 200 else None
    except aiohttp.ClientError:
        return None


def app_details(settings: Settings) -> dict[str, Any] | None:
    """ARI's view of the controller's Stasis app (None: not registered)."""
    return asyncio.run(_app_details(settings))


def app_registered(settings: Settings) -> bool:
    return app_details(settings) is not None


class Controller:
    """`hotline run` as a child process, like an operator runs it."""

    def __init__(self, config_file: Path, settings: Settings, extra_env: Mapping[str, str] | None = None) -> None:
        self.config_file = config_file
        self.settings = settings
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = settings.data_dir / "controller.log"

    def start(self) -> Controller:
        log = open(self.log_path, "a")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([*HOTLINE, "run"], env={**env_for(self.config_file), **self.extra_env}, stdout=log,
                                     stderr=subprocess.STDOUT, text=True)
        try:
            wait_until(lambda: app_registered(self.settings), 45, "the controller to register its Stasis app")
        except BaseException:
            # Never leave a controller behind: it would hold the data folder's lock and answer the next
            # tests' calls with whatever flows it had.
            self.stop(signal.SIGKILL)
            raise
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            # Seen once in a full run (not reproduced alone): a controller stopped right after it started did
            # not exit. Never leave it answering the next tests' calls; the log keeps the evidence.
            with open(self.log_path, "a") as log:
                log.write("harness: no exit 20 s after the stop signal; killed\n")
            self.proc.kill()
            code = self.proc.wait(timeout=20)
        self.proc = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> Controller:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            self.stop()
