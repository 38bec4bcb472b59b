"""Expected errors give one clear line on stderr and the documented exit code, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

from click.testing import CliRunner

from engine.cli.main import cli


def run(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[int, str]:
    base = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, args, env={**base, **env}, catch_exceptions=False)
    return result.exit_code, result.output


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unknown_setting_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "hotline.toml"
    config.write_text("[pbx]\nsip_prot = 5060\n")
    code, out = run(["--config", str(config), "calls"], {}, tmp_path)
    assert code == 2
    assert out.strip() == f"error: unknown setting 'pbx.sip_prot' in {config}"


def test_unreachable_database_exits_3_without_password(tmp_path: Path) -> None:
    url = f"postgresql://hotline:pw123@127.0.0.1:{closed_port()}/hotline"
    code, out = run(["calls"], {"HOTLINE_DATABASE_URL": url}, tmp_path)
    assert code == 3
    assert out.startswith("error: database postgresql") and "unreachable" in out
    assert "pw123" not in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1


def test_pbx_not_installed_exits_3(tmp_path: Path) -> None:
    code, out = run(["pbx", "up"], {"HOTLINE_PBX_ROOT": str(tmp_path / "no-pbx")}, tmp_path)
    assert code == 3
    assert "not installed" in out and "hotline pbx install" in out


def test_unknown_call_exits_1(tmp_path: Path) -> None:
    assert run(["db", "upgrade"], {}, tmp_path)[0] == 0
    code, out = run(["call", "show", "999"], {}, tmp_path)
    assert code == 1 and "no call '999'" in out
