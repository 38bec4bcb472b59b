"""PBX credentials belong to the instance: generated per install, kept 0600 with the instance's config,
and one hotline (data folder) per instance."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from engine.errors import InstanceOwned
from engine.pbx.ari import AriError
from engine.pbx.checks import ari_problem
from engine.pbx.credentials import (
    FILE_NAME,
    LEGACY_FILE_NAME,
    InstanceClaim,
    PbxCredentials,
    decide_claim,
    for_settings,
    generate,
    load_or_create,
)
from engine.settings import load_settings

A = PbxCredentials("hotline", "a" * 32, "hotline", "b" * 32)
B = PbxCredentials("hotline", "c" * 32, "hotline", "d" * 32)


def test_decide_claim() -> None:
    fresh = dict(legacy=None, fresh=B, instance="hotline")
    assert decide_claim(None, "/one", owner_alive=False, **fresh) == InstanceClaim("/one", B)
    assert decide_claim(None, "/one", owner_alive=False, legacy=A, fresh=B, instance="x").credentials == A
    mine = InstanceClaim("/one", A)
    assert decide_claim(mine, "/one", owner_alive=True, **fresh) is mine
    with pytest.raises(InstanceOwned, match="belongs to the hotline whose data folder is /one"):
        decide_claim(mine, "/two", owner_alive=True, **fresh)
    # The owner's folder is gone: taken over, keeping the passwords the running Asterisk has.
    assert decide_claim(mine, "/two", owner_alive=False, **fresh) == InstanceClaim("/two", A)


def test_generated_secrets_differ_per_install(tmp_path: Path) -> None:
    """Two installs (data folders, instances) never share a password; none is a default word."""
    made = [load_or_create(tmp_path / f"etc{i}", tmp_path / f"data{i}", f"i{i}") for i in range(2)]
    assert made[0].ari_password != made[1].ari_password and made[0].ami_password != made[1].ami_password
    assert all(len(c.ari_password) >= 32 and c.ari_password != c.ami_password for c in made)
    assert generate() != generate()


def test_kept_with_the_instance_0600_and_reused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    first = load_or_create(tmp_path / "etc", data, "hotline")
    path = tmp_path / "etc" / FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["owner"] == str(data.resolve())
    assert load_or_create(tmp_path / "etc", data, "hotline") == first


def test_second_checkout_on_the_same_instance_is_refused(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    first = load_or_create(tmp_path / "etc", one, "hotline")
    with pytest.raises(InstanceOwned) as refused:
        load_or_create(tmp_path / "etc", two, "hotline")
    assert refused.value.exit_code == 2 and "pbx.instance" in refused.value.message
    one.rmdir()  # the first checkout is deleted: its instance is taken over with the same passwords
    assert load_or_create(tmp_path / "etc", two, "hotline") == first


def test_legacy_credentials_adopted(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / LEGACY_FILE_NAME).write_text(json.dumps(A.__dict__))
    assert load_or_create(tmp_path / "etc", data, "hotline") == A


def test_managed_instance_folder_in_the_root(tmp_path: Path) -> None:
    settings = load_settings(environ={"HOTLINE_DATA_DIR": str(tmp_path / "data"),
                                      "HOTLINE_PBX_ROOT": str(tmp_path / "root"), "HOTLINE_PBX_INSTANCE": "x1"})
    for_settings(settings)
    assert (tmp_path / "root" / "etc" / "hotline" / "x1" / FILE_NAME).exists()


def test_refused_login_is_explained() -> None:
    line = ari_problem(AriError(401, "GET", "/asterisk/info", "Authentication required"))
    assert line.startswith("refused (401): ") and "other credentials" in line and "hotline pbx down" in line
    assert ari_problem(OSError("boom")) == "failed: boom"
