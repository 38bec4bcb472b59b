"""The site's password key file: made once (0600), read back the same, a bad file named with what to do."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from engine.errors import SettingsError
from engine.selfservice.password_key import load_or_create


def test_made_once_private_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "data" / "password-key"
    first = load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.secret) == 32
    assert load_or_create(path) == first
    assert first.secret.hex() not in path.read_text()  # stored as base64, one line


@pytest.mark.parametrize("text", ["", "not base64 !!\n", "AAAA\n"])
def test_a_bad_file_is_an_error_naming_it_and_is_not_replaced(tmp_path: Path, text: str) -> None:
    path = tmp_path / "password-key"
    path.write_text(text)
    with pytest.raises(SettingsError, match=f"{path}: not a hotline password key"):
        load_or_create(path)
    assert path.read_text() == text


def test_an_unreadable_folder_is_an_error_naming_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SettingsError, match="cannot"):
        load_or_create(blocker / "password-key")
