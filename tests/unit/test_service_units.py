"""`hotline service install --dry-run`: the systemd units, the sd_notify lines, the rotating log."""

from __future__ import annotations

import logging
import socket
import stat
from pathlib import Path

from click.testing import CliRunner

from engine import logging_setup
from engine.cli.main import cli
from engine.service_units import render_units
from engine.settings import load_settings
from engine.systemd_notify import notify, watchdog_period_s


def test_dry_run_prints_both_units(tmp_path: Path) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text(f'data_dir = "{tmp_path / "data"}"\n[pbx]\nroot = "{tmp_path / "root"}"\n')
    result = CliRunner().invoke(cli, ["--config", str(config), "service", "install", "--user", "hotline",
                                      "--dry-run"], env={"HOTLINE_CONFIG": ""})
    assert result.exit_code == 0, result.output
    pbx_unit, controller_unit = result.output.split("# ---- ")[1:]
    assert pbx_unit.startswith("/etc/systemd/system/hotline-pbx.service")
    for line in ("Type=forking", "Restart=on-failure", "RestartSec=2", "UMask=0077", "LimitNOFILE=65536",
                 f"Environment=HOTLINE_CONFIG={config}", "pbx up", "pbx down",
                 f"PIDFile={tmp_path / 'root' / 'run' / 'hotline' / 'hotline' / 'asterisk.pid'}"):
        assert line in pbx_unit, line
    assert controller_unit.startswith("/etc/systemd/system/hotline.service")
    for line in ("Type=notify", "WatchdogSec=30", "Restart=on-failure", "RestartSec=2", "User=hotline",
                 "Requires=hotline-pbx.service", "After=hotline-pbx.service", " run\n", "UMask=0077"):
        assert line in controller_unit, line
    assert not (tmp_path / "etc").exists()


def test_external_pbx_has_no_pbx_unit_and_instances_have_their_own_names(tmp_path: Path) -> None:
    settings = load_settings(environ={"HOTLINE_PBX_MODE": "external", "HOTLINE_PBX_INSTANCE": "second"})
    units = render_units(settings, hotline_bin=Path("/opt/h/bin/hotline"), config_file=tmp_path / "h.toml")
    assert list(units) == ["hotline-second.service"]
    assert "Requires=" not in units["hotline-second.service"]


def test_install_needs_a_settings_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["service", "install", "--dry-run"], env={"HOTLINE_CONFIG": ""})
    # The test runs in the repository, which has no hotline.toml (and this machine no /etc/hotline).
    assert result.exit_code == 2 and "no settings file" in result.output


def test_notify_and_watchdog(tmp_path: Path) -> None:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(path))
        assert notify("WATCHDOG=1", {"NOTIFY_SOCKET": str(path)})
        assert server.recv(64) == b"WATCHDOG=1"
    assert not notify("READY=1", {})
    assert watchdog_period_s({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_period_s({}) is None


def test_log_file_rotates_and_is_private(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logging_setup.configure(False, tmp_path / "logs")
        rotating = next(h for h in root.handlers if isinstance(h, logging.handlers.RotatingFileHandler))
        assert rotating.maxBytes == logging_setup.MAX_BYTES and rotating.backupCount == logging_setup.BACKUPS
        rotating.maxBytes = 200
        for i in range(20):
            logging.getLogger("t").info("line %d with some words to fill the file", i)
        files = sorted((tmp_path / "logs").iterdir())
        assert len(files) > 1 and all(f.stat().st_size <= 300 for f in files)
        assert stat.S_IMODE((tmp_path / "logs" / "hotline.log").stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "logs").stat().st_mode) == 0o700
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers[:], level = saved
        root.setLevel(level)
