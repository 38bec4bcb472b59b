"""Environmental mistakes around the PBX give one clear line and exit 3."""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.pbx.layout import PbxLayout
from engine.settings import load_settings
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, settings_toml


@pytest.fixture
def instance(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An instance name of this test process alone (a parallel worker or another test session on the machine
    must not find its claim in the shared PBX root); its folders there are removed after the test."""
    name = f"t{os.getpid()}{request.node.name.removeprefix('test_')[:8]}".replace("_", "")
    yield name
    config = tmp_path / "hotline.toml"
    if config.exists():
        for folder in PbxLayout.from_settings(load_settings(config, environ={})).instance_dirs():
            shutil.rmtree(folder, ignore_errors=True)


def test_sip_port_taken_is_one_clear_error(pbx: Pbx, tmp_path: Path, instance: str) -> None:
    """Starting a second instance on a SIP port another program holds fails before Asterisk starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        config = tmp_path / "hotline.toml"
        config.write_text(settings_toml(tmp_path, instance, sip_port=port))
        result = hotline(config, "pbx", "up", check=False)
    assert result.returncode == 3
    assert f"SIP port 127.0.0.1:{port}/udp is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_of_a_stopped_instance(tmp_path: Path, pbx: Pbx, instance: str) -> None:
    """`pbx status` and `pbx check` on an instance that is not running say so and exit 3."""
    config = tmp_path / "hotline.toml"
    config.write_text(settings_toml(tmp_path, instance))
    status = hotline(config, "pbx", "status", check=False)
    assert status.returncode == 3 and "not running" in status.stdout
    check = hotline(config, "pbx", "check", check=False, timeout=90)
    assert check.returncode == 3 and "FAIL" in check.stdout
