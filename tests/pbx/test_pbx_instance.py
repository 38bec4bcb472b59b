"""One Asterisk instance, one hotline: `hotline up` refuses to report "up" unless ARI and AMI accept its
logins, and a second checkout cannot take over an instance another hotline owns."""

from __future__ import annotations

import json
from pathlib import Path

from engine.pbx.credentials import FILE_NAME
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline


def test_second_checkout_on_the_same_instance_is_refused(pbx: Pbx, tmp_path: Path) -> None:
    """A fresh checkout (its own data folder) with the same instance name: `hotline up` stops with one
    error line before touching the PBX, and the first hotline still logs in."""
    other = tmp_path / "other-checkout.toml"
    other.write_text(pbx.config_file.read_text().replace(str(pbx.settings.data_dir), str(tmp_path / "data")))
    result = hotline(other, "up", check=False)
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    expected = f"error: PBX instance '{pbx.settings.pbx.instance}' belongs to"
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert "is up" not in result.stdout
    assert hotline(pbx.config_file, "pbx", "check", check=False).returncode == 0


def test_up_refuses_when_the_pbx_refuses_our_ari_login(pbx: Pbx) -> None:
    """The running Asterisk holds other ARI credentials than the instance's file (as after a hand edit or
    an older version): `hotline up` prints one `error:` line naming the refused ARI login, exits 3, and
    never says it is up."""
    claim_file = pbx.control.config_dir / FILE_NAME
    original = claim_file.read_text()
    claim = json.loads(original)
    claim["credentials"]["ari_password"] = "not-the-one-asterisk-has"
    claim_file.write_text(json.dumps(claim))
    try:
        result = hotline(pbx.config_file, "up", check=False)
    finally:
        claim_file.write_text(original)
        pbx.control.write_config()  # ari.conf back as the running Asterisk knows it
    assert result.returncode == 3, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ARI login: refused (401): "), lines
    assert "other credentials" in lines[0]
    assert "is up" not in result.stdout
    assert hotline(pbx.config_file, "pbx", "check", check=False).returncode == 0
