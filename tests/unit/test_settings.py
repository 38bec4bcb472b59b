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
