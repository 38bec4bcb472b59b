"""The real Asterisk one test session runs (shared by tests/pbx and tests/chaos), and the settings it uses."""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy

from engine.pbx.control import PbxControl
from engine.pbx.credentials import for_settings
from engine.pbx.install import asterisk_version
from engine.prompts.build import build_prompts
from engine.settings import Settings, load_settings
from engine.store.database import make_engine
from engine.store.migrate import upgrade
from tests.pbx.harness import Controller, free_port, hotline, settings_toml

SHIPPED_FLOWS = Path(__file__).resolve().parents[2] / "ivr_flows"
SHIPPED_QUEUES = Path(__file__).resolve().parents[2] / "acd" / "queues.yaml"


def write_test_queues(path: Path) -> Path:
    """The shipped queues with short ring, announcement, hold and silent-script timers: tests take seconds."""
    text = SHIPPED_QUEUES.read_text(encoding="utf-8")
    for name, seconds in (("ring_timeout_s", 4), ("announce_every_s", 3), ("hold_reassure_every_s", 4),
                          ("hold_target_s", 7), ("hold_limit_s", 12), ("silent_wait_s", 2)):
        text = re.sub(rf"{name}: \d+", f"{name}: {seconds}", text)
    path.write_text(text, encoding="utf-8")
    return path


def write_test_flows(folder: Path, hours: str = "00:00-24:00") -> Path:
    """The shipped flows, open at the given hours every day and with short timers, for the PBX tests."""
    folder.mkdir(parents=True, exist_ok=True)
    text = (SHIPPED_FLOWS / "hotline.yaml").read_text(encoding="utf-8")
    text = re.sub(r'(daily|holiday): "[^"]*"', rf'\1: "{hours}"', text)
    text = re.sub(r"timeout: \d+", "timeout: 2", text)
    (folder / "hotline.yaml").write_text(text, encoding="utf-8")
    return folder


@dataclass
class Pbx:
    settings: Settings
    config_file: Path
    control: PbxControl

    def controller(self, extra_env: Mapping[str, str] | None = None) -> Controller:
        return Controller(self.config_file, self.settings, extra_env)

    def journal(self) -> sqlalchemy.Engine:
        return make_engine(self.settings.db_url)


def start_session_pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    """Start the session's Asterisk in its own instance (free ports, own folders); stop and remove it after."""
    base = load_settings(environ={})
    if asterisk_version(base.pbx.root) is None:
        pytest.fail(f"the managed PBX is not installed in {base.pbx.root}: run `make setup`")
    data_dir = tmp_path_factory.mktemp("hotline-data")
    flows_dir = write_test_flows(data_dir / "flows")
    queues_file = write_test_queues(data_dir / "queues.yaml")
    config_file = data_dir / "hotline.toml"
    # Booked callbacks go out through a "trunk" that is a SIPp answering at this port (test_callbacks.py).
    trunk_port = free_port(socket.SOCK_DGRAM)
    # Per-call overflow puts callers through to a partner center: a SIPp answering at this port (test_overflow.py).
    site_port = free_port(socket.SOCK_DGRAM)
    config_file.write_text(f'flows_dir = "{flows_dir}"\nqueues_file = "{queues_file}"\nacw_seconds = 3\n'
                           + settings_toml(data_dir, f"t{os.getpid()}")
                           + f'\n[callback]\ntrunk_host = "127.0.0.1"\ntrunk_port = {trunk_port}\n'
                           'window_start = "00:00"\nwindow_end = "23:59"\nretry_after_s = 3\nmax_attempts = 2\n'
                           "ring_timeout_s = 8\n"
                           f'\n[overflow_sites.partner]\nhost = "127.0.0.1"\nport = {site_port}\nring_timeout_s = 8\n')
    settings = load_settings(config_file, environ={})
    control = PbxControl(settings, for_settings(settings))
    build_prompts(control.layout.prompt_dir)
    upgrade(settings.db_url)
    hotline(config_file, "data", "load", "--sample")
    control.start(lambda line: None)
    try:
        yield Pbx(settings, config_file, control)
    finally:
        control.stop()
        for folder in control.layout.instance_dirs():
            shutil.rmtree(folder, ignore_errors=True)
