"""Six-digit service passwords (六位业务密码), stored as salted scrypt hashes only.

Format: ``scrypt$<n>$<r>$<p>$<salt b64>$<key b64>``, so the cost can be raised later without breaking
stored hashes. A 6-digit secret has only a million values: the hash keeps clear passwords out of the
database and backups, it cannot stop an offline search by someone who stole the table; the cost below
makes that search slow (minutes, not milliseconds) while a check during a call stays in tens of ms.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Final

SCHEME: Final = "scrypt"
N: Final = 2**14
R: Final = 8
P: Final = 1
KEY_BYTES: Final = 32
SALT_BYTES: Final = 16
# Refuse stored costs far above ours: a corrupted or hostile hash must not eat the controller's memory.
MAX_N: Final = 2**17

_PASSWORD = re.compile(r"[0-9]{6}")


def is_valid_password(password: str) -> bool:
    """Exactly six ASCII digits."""
    return _PASSWORD.fullmatch(password) is not None


def hash_password(password: str) -> str:
    """A new salted hash of ``password``; ValueError unless it is exactly six digits."""
    if not is_valid_password(password):
        raise ValueError("a service password is exactly 6 digits")
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, N, R, P)
    return "$".join((SCHEME, str(N), str(R), str(P), _b64(salt), _b64(key)))


def verify_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches ``password_hash``; False for a wrong, malformed or non-6-digit input."""
    if not is_valid_password(password):
        return False
    try:
        scheme, n, r, p, salt, key = password_hash.split("$")
        cost = (int(n), int(r), int(p))
        expected = base64.b64decode(key, validate=True)
        salt_bytes = base64.b64decode(salt, validate=True)
    except ValueError:
        return False
    if scheme != SCHEME or not 2 <= cost[0] <= MAX_N or not 1 <= cost[1] <= 16 or not 1 <= cost[2] <= 4:
        return False
    try:
        actual = _derive(password, salt_bytes, *cost, length=len(expected))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def is_password_hash(value: str) -> bool:
    """Looks like a hash this module wrote (used to accept pre-hashed passwords in CSV files)."""
    parts = value.split("$")
    return len(parts) == 6 and parts[0] == SCHEME and all(part.isdecimal() for part in parts[1:4])


def _derive(password: str, salt: bytes, n: int, r: int, p: int, length: int = KEY_BYTES) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=256 * 1024 * 1024)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
