"""ARI and AMI credentials: generated once per data folder, kept in a 0600 file, never a default word."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from engine.errors import SettingsError

FILE_NAME = "pbx-credentials.json"


@dataclass(frozen=True)
class PbxCredentials:
    ari_user: str
    ari_password: str
    ami_user: str
    ami_password: str


def load_or_create(data_dir: Path) -> PbxCredentials:
    """Return the instance's credentials, creating the file (mode 0600) on first use."""
    path = data_dir / FILE_NAME
    if path.exists():
        try:
            return PbxCredentials(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise SettingsError(f"credentials file {path} is damaged ({exc}); delete it to regenerate") from None
    data_dir.mkdir(parents=True, exist_ok=True)
    creds = PbxCredentials(
        ari_user="hotline",
        ari_password=secrets.token_urlsafe(24),
        ami_user="hotline",
        ami_password=secrets.token_urlsafe(24),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(asdict(creds), fh)
    return creds
