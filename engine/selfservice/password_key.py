"""The site's password key: the secret the service-password hashes are made with (engine.selfservice.passwords).

It is 32 random bytes in a file of its own (``password_key_file``, default ``<data_dir>/password-key``, 0600),
created the first time a controller or `hotline data load` needs it. It is not in the database on purpose:
a database, dump or CSV export that leaves the box without this file holds nothing a thief can search. Back it
up apart from the database; a site that loses it can still take calls, but every caller's service password
is then refused until the accounts are loaded again (the check logs which key the hashes need).

The key id (8 hex digits of a hash of the key) is written into each hash so a wrong or lost key is named in
the log instead of looking like callers mistyping; it tells nothing about the key itself.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from engine.errors import SettingsError

KEY_BYTES: Final = 32


@dataclass(frozen=True)
class PasswordKey:
    secret: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"hotline password key id\0" + self.secret).hexdigest()[:8]

    @classmethod
    def generate(cls) -> PasswordKey:
        return cls(secrets.token_bytes(KEY_BYTES))


def load_or_create(path: Path) -> PasswordKey:
    """The key in ``path``, made there (0600) when the file does not exist; SettingsError for a bad file."""
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    key = PasswordKey.generate()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)  # another process made it a moment ago: use theirs
    except OSError as exc:
        raise SettingsError(f"{path}: cannot create the password key: {exc.strerror}") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(base64.b64encode(key.secret).decode("ascii") + "\n")
        file.flush()
        os.fsync(file.fileno())
    return key


def _read(path: Path) -> PasswordKey:
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the password key: {exc}") from None
    try:
        secret = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        secret = b""
    if len(secret) != KEY_BYTES:
        raise SettingsError(f"{path}: not a hotline password key (one line of base64, {KEY_BYTES} bytes); "
                            "restore the site's key file, or move this one away to make a new key "
                            "(service passwords hashed with the old key will then be refused)")
    return PasswordKey(secret)
