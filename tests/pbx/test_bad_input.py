"""Environmental mistakes around the PBX give one clear line and exit 3."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, settings_toml


def test_sip_port_taken_is_one_clear_error(pbx: Pbx, tmp_path: Path) -> None:
    """Starting a second instance on a SIP port another program holds fails before Asterisk starts."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        config = tmp_path / "hotline.toml"
        config.write_text(settings_toml(tmp_path, "tportclash", sip_port=port))
        result = hotline(config, "pbx", "up", check=False)
    assert result.returncode == 3
    assert f"SIP port 127.0.0.1:{port}/udp is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_status_of_a_stopped_instance(tmp_path: Path, pbx: Pbx) -> None:
    """`pbx status` and `pbx check` on an instance that is not running say so and exit 3."""
    config = tmp_path / "hotline.toml"
    config.write_text(settings_toml(tmp_path, "tnotrunning"))
    status = hotline(config, "pbx", "status", check=False)
    assert status.returncode == 3 and "not running" in status.stdout
    check = hotline(config, "pbx", "check", check=False, timeout=90)
    assert check.returncode == 3 and "FAIL" in check.stdout
