"""Settings: file + environment, and one clear error for every kind of mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import SettingsError
from engine.settings import load_settings


def test_defaults_and_environment_override() -> None:
    s = load_settings(environ={"HOTLINE_PBX_SIP_PORT": "5070", "HOTLINE_HOTLINE_NUMBER": "10010"})
    assert s.pbx.sip_port == 5070 and s.hotline_number == "10010"
    assert s.pbx.sip_bind == "127.0.0.1" and s.data_dir.is_absolute()
    assert s.db_url.startswith("sqlite:///")


def test_file_values(tmp_path: Path) -> None:
    f = tmp_path / "h.toml"
    f.write_text('hotline_number = "10000"\n[pbx]\nami_port = 6038\n')
    s = load_settings(f, environ={})
    assert s.hotline_number == "10000" and s.pbx.ami_port == 6038


@pytest.mark.parametrize(("text", "message"), [
    ("colour = 1\n", "unknown setting 'colour'"),
    ("[pbx]\nsip_prot = 1\n", "unknown setting 'pbx.sip_prot'"),
    ("[pbx]\nsip_port = 99999\n", "bad value for setting 'pbx.sip_port'"),
    ("hotline_number = \"abc\"\n", "bad value for setting 'hotline_number'"),
    ("this is not toml", "is not valid TOML"),
])
def test_bad_file_names_the_culprit(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "h.toml"
    f.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(f, environ={})


def test_unknown_environment_variable() -> None:
    with pytest.raises(SettingsError, match="unknown setting HOTLINE_SIP_PROT in the environment"):
        load_settings(environ={"HOTLINE_SIP_PROT": "1"})


def test_missing_file() -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(Path("/nonexistent/hotline.toml"), environ={})


def test_lookup_order(tmp_path: Path) -> None:
    """$HOTLINE_CONFIG, then ./hotline.toml, then /etc/hotline/hotline.toml; none: defaults."""
    env_file, here, system = tmp_path / "env.toml", tmp_path / "cwd", tmp_path / "etc" / "hotline.toml"
    here.mkdir()
    system.parent.mkdir()
    env_file.write_text('hotline_number = "10001"\n')
    (here / "hotline.toml").write_text('hotline_number = "10002"\n')
    system.write_text('hotline_number = "10003"\n')

    def number(environ: dict[str, str]) -> str:
        return load_settings(environ=environ, cwd=here, system_file=system).hotline_number

    assert number({"HOTLINE_CONFIG": str(env_file)}) == "10001"
    assert number({}) == "10002"
    (here / "hotline.toml").unlink()
    assert number({}) == "10003"
    system.unlink()
    assert number({}) == "10086"
    assert load_settings(env_file, environ={"HOTLINE_CONFIG": "/nonexistent"}).hotline_number == "10001"


def test_relative_paths_in_a_file_are_relative_to_its_folder(tmp_path: Path) -> None:
    (tmp_path / "hotline.toml").write_text('data_dir = "data"\nflows_dir = "flows"\n')
    s = load_settings(environ={"HOTLINE_CONFIG": str(tmp_path / "hotline.toml")}, cwd=Path("/"))
    assert s.data_dir == tmp_path / "data" and s.flows_dir == tmp_path / "flows"
