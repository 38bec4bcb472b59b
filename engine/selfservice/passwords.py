"""Six-digit service passwords (六位业务密码), stored as keyed, salted hashes only.

Why keyed and not slow. A 6-digit secret has a million values, so no work factor makes an offline search of
a stolen table impractical: the scrypt hashes written before (N=2^14) cost a thief about 20 CPU-hours per
account (far less on a GPU), while each check cost the controller ~60 ms of CPU during the call and set the
journey benchmark's knee. The hash is therefore an HMAC-SHA256 under the site's password key
(engine.selfservice.password_key), a 256-bit secret kept in a file outside the database: a database, dump,
backup or CSV export without that file gives nothing to search, at any cost. Whoever has both the file and
the table can search in a second, but they hold the box that answers the calls.

Formats (``accounts.password_hash``, at most 200 characters):
  hmac-sha256$<key id>$<salt b64>$<mac b64>   written now; mac = HMAC-SHA256(key, salt || password)
  scrypt$<n>$<r>$<p>$<salt b64>$<key b64>     written before; still checked, and rewritten keyed by the first
                                               right check (engine.selfservice.db_source)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Final

from engine.selfservice.password_key import PasswordKey

SCHEME: Final = "hmac-sha256"
LEGACY_SCHEME: Final = "scrypt"
MAC_BYTES: Final = 32
SALT_BYTES: Final = 16
# Refuse stored scrypt costs far above the old ones: a corrupted or hostile hash must not eat the memory.
MAX_N: Final = 2**17

_PASSWORD = re.compile(r"[0-9]{6}")
_KEY_ID = re.compile(r"[0-9a-f]{8}")


def is_valid_password(password: str) -> bool:
    """Exactly six ASCII digits."""
    return _PASSWORD.fullmatch(password) is not None


def hash_password(password: str, key: PasswordKey) -> str:
    """A new salted hash of ``password`` under ``key``; ValueError unless it is exactly six digits."""
    if not is_valid_password(password):
        raise ValueError("a service password is exactly 6 digits")
    salt = secrets.token_bytes(SALT_BYTES)
    return "$".join((SCHEME, key.key_id, _b64(salt), _b64(_mac(key, salt, password))))


def verify_password(password: str, password_hash: str, key: PasswordKey) -> bool:
    """True when ``password`` matches ``password_hash``; False for a wrong, malformed or non-6-digit input,
    and for a hash made with another key (see ``hash_key_id``)."""
    if not is_valid_password(password):
        return False
    if password_hash.startswith(LEGACY_SCHEME + "$"):
        return _verify_scrypt(password, password_hash)
    parts = password_hash.split("$")
    if len(parts) != 4 or parts[0] != SCHEME or parts[1] != key.key_id:
        return False
    try:
        salt, expected = _unb64(parts[2]), _unb64(parts[3])
    except ValueError:
        return False
    return len(expected) == MAC_BYTES and hmac.compare_digest(_mac(key, salt, password), expected)


def is_password_hash(value: str) -> bool:
    """Looks like a hash this module writes or wrote (used to accept pre-hashed passwords in CSV files)."""
    parts = value.split("$")
    if parts[0] == LEGACY_SCHEME:
        return len(parts) == 6 and all(part.isdecimal() for part in parts[1:4])
    return len(parts) == 4 and parts[0] == SCHEME and _KEY_ID.fullmatch(parts[1]) is not None


def hash_key_id(password_hash: str) -> str | None:
    """The id of the key a keyed hash was made with (None for an old scrypt hash or a malformed one)."""
    parts = password_hash.split("$")
    return parts[1] if is_password_hash(password_hash) and parts[0] == SCHEME else None


def foreign_key_id(password_hash: str, key: PasswordKey) -> str | None:
    """The id of the other key a keyed hash was made with; None when it was made with ``key``, is an old scrypt
    hash or is malformed (those are refused or checked on their own terms)."""
    key_id = hash_key_id(password_hash)
    return None if key_id is None or key_id == key.key_id else key_id


def is_legacy_hash(password_hash: str) -> bool:
    """An old scrypt hash: slow to check, and searchable by whoever takes the table alone."""
    return password_hash.startswith(LEGACY_SCHEME + "$")


def _mac(key: PasswordKey, salt: bytes, password: str) -> bytes:
    return hmac.digest(key.secret, salt + password.encode("ascii"), "sha256")


def _verify_scrypt(password: str, password_hash: str) -> bool:
    try:
        _, n, r, p, salt, stored = password_hash.split("$")
        cost = (int(n), int(r), int(p))
        expected, salt_bytes = _unb64(stored), _unb64(salt)
    except ValueError:
        return False
    if not 2 <= cost[0] <= MAX_N or not 1 <= cost[1] <= 16 or not 1 <= cost[2] <= 4 or not expected:
        return False
    try:
        actual = hashlib.scrypt(password.encode(), salt=salt_bytes, n=cost[0], r=cost[1], p=cost[2],
                                dklen=len(expected), maxmem=256 * 1024 * 1024)
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)  # binascii.Error is a ValueError
