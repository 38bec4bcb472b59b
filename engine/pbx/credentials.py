"""ARI and AMI credentials: generated once per PBX instance, kept with the instance, never a default word.

Where they live, and why. The credentials are rendered into the instance's ``ari.conf`` and
``manager.conf``, so they are kept next to them, in the instance's config folder
(``<pbx root>/etc/hotline/<instance>/hotline-credentials.json``, or ``pbx.config_dir`` for a site's own
Asterisk), mode 0600. They therefore belong to the Asterisk instance, not to a checkout: whoever renders
that instance's config renders the same passwords, and a running Asterisk never holds passwords its
controller does not know.

The same file names the data folder that owns the instance (the journal and the fallback-CDR offset of
the hotline served by this Asterisk). A hotline with another data folder (a second checkout on the same
machine, with the default instance name) is refused with `InstanceOwned` before it touches anything: two
hotlines rendering one Asterisk's dialplan and agents, serving one Stasis app and journaling each other's
fallback calls is the fight this prevents. A second hotline on one machine takes its own ``pbx.instance``
(and its own ports). A claim whose data folder no longer exists (that checkout was deleted) is taken
over, keeping the passwords the running Asterisk has.

We did not derive the instance name from the data folder instead: two such instances would still want the
same default ports, an operator's instance (and its folders in the root) would change name when the data
folder moves, and the second checkout would silently start a second Asterisk rather than be told.

Migration: credentials from before (``data_dir/pbx-credentials.json``) are adopted by an instance that has
none yet, so a running Asterisk configured with them keeps accepting the controller.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.errors import DomainError, InstanceOwned, SettingsError
from engine.pbx.layout import PbxLayout
from engine.settings import Settings

FILE_NAME = "hotline-credentials.json"
LEGACY_FILE_NAME = "pbx-credentials.json"


@dataclass(frozen=True)
class PbxCredentials:
    ari_user: str
    ari_password: str
    ami_user: str
    ami_password: str


@dataclass(frozen=True)
class InstanceClaim:
    """Who owns an instance (a data folder, absolute) and the instance's credentials."""

    owner: str
    credentials: PbxCredentials


def generate() -> PbxCredentials:
    return PbxCredentials(ari_user="hotline", ari_password=secrets.token_urlsafe(24),
                          ami_user="hotline", ami_password=secrets.token_urlsafe(24))


def decide_claim(existing: InstanceClaim | None, data_dir: str, *, owner_alive: bool,
                 legacy: PbxCredentials | None, fresh: PbxCredentials, instance: str) -> InstanceClaim:
    """The claim this data folder may use (pure). Raises InstanceOwned when a live other one holds it."""
    if existing is None:
        return InstanceClaim(data_dir, legacy or fresh)
    if existing.owner == data_dir:
        return existing
    if owner_alive:
        raise InstanceOwned(
            f"PBX instance '{instance}' belongs to the hotline whose data folder is {existing.owner}; "
            f"this one's is {data_dir}. Two hotlines cannot share one Asterisk: give this one its own "
            "pbx.instance and ports in its settings, or use the first one's settings (HOTLINE_CONFIG)")
    return InstanceClaim(data_dir, existing.credentials)  # that checkout is gone: keep Asterisk's passwords


def read_claim(path: Path) -> InstanceClaim | None:
    """The claim of the instance whose credentials file is ``path`` (None: unclaimed)."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return InstanceClaim(str(raw["owner"]), PbxCredentials(**raw["credentials"]))
    except FileNotFoundError:
        return None
    except (ValueError, TypeError, KeyError) as exc:
        raise SettingsError(f"credentials file {path} is damaged ({exc}); delete it to regenerate "
                            "(then restart the PBX so it reads the new ones)") from None


def _read_legacy(data_dir: Path) -> PbxCredentials | None:
    try:
        return PbxCredentials(**json.loads((data_dir / LEGACY_FILE_NAME).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _write_claim(path: Path, claim: InstanceClaim, *, first: bool) -> None:
    text = json.dumps({"owner": claim.owner, "credentials": asdict(claim.credentials)})
    if first:
        # O_EXCL: two hotline commands starting together must not each write their own passwords.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    tmp = path.with_suffix(".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    tmp.replace(path)


def load_or_create(folder: Path, data_dir: Path, instance: str) -> PbxCredentials:
    """The credentials of the instance whose config folder is ``folder``, for the hotline whose data
    folder is ``data_dir``; created (0600) on first use. InstanceOwned if another live hotline owns it."""
    owner = str(data_dir.resolve())
    path = folder / FILE_NAME
    for _ in range(3):
        existing = read_claim(path)
        claim = decide_claim(existing, owner, owner_alive=existing is not None and Path(existing.owner).is_dir(),
                             legacy=_read_legacy(data_dir), fresh=generate(), instance=instance)
        if claim == existing:
            return claim.credentials
        folder.mkdir(parents=True, exist_ok=True)
        data_dir.mkdir(parents=True, exist_ok=True)  # the claim is alive while this folder exists
        try:
            _write_claim(path, claim, first=existing is None)
        except FileExistsError:
            continue  # another command created it a moment ago: use that one
        return claim.credentials
    raise SettingsError(f"could not create the credentials file {path}")


def credentials_folder(settings: Settings) -> Path:
    """The instance's config folder: the managed root's ``etc/hotline/<instance>`` or ``pbx.config_dir``."""
    if settings.pbx.mode == "managed":
        return PbxLayout.from_settings(settings).config_dir
    if settings.pbx.config_dir is None:
        raise DomainError("external PBX mode needs the setting pbx.config_dir")
    return settings.pbx.config_dir


def for_settings(settings: Settings) -> PbxCredentials:
    return load_or_create(credentials_folder(settings), settings.data_dir, settings.pbx.instance)
