"""Service passwords: HMAC-SHA256 under the site's password key, a random salt, exactly six digits, nothing
readable stored; the scrypt hashes written before still check."""

from __future__ import annotations

import pytest

from engine.selfservice.password_key import PasswordKey
from engine.selfservice.passwords import (
    foreign_key_id,
    hash_key_id,
    hash_password,
    is_legacy_hash,
    is_password_hash,
    verify_password,
)

KEY = PasswordKey(bytes(range(32)))  # fixed: test ids must be the same in every xdist worker
# An scrypt hash of 123456 as hotline wrote them before the password key (N=2^14, r=8, p=1).
LEGACY_123456 = "scrypt$16384$8$1$7EI/Nb5bVT5/ok5kZ4OPzQ==$k9jbFVwH5XbWW9LOAsjTJ/3pMfGmRqciVBEPp0qeAlI="


def test_hash_verifies_and_hides_the_password() -> None:
    stored = hash_password("123456", KEY)
    assert "123456" not in stored
    assert stored.startswith(f"hmac-sha256${KEY.key_id}$") and is_password_hash(stored)
    assert hash_key_id(stored) == KEY.key_id and not is_legacy_hash(stored)
    assert len(stored) <= 200  # fits accounts.password_hash
    assert verify_password("123456", stored, KEY)
    assert not verify_password("123457", stored, KEY)


def test_salt_differs_per_hash() -> None:
    assert hash_password("123456", KEY) != hash_password("123456", KEY)


def test_the_table_alone_is_not_enough_another_key_never_matches() -> None:
    other = PasswordKey.generate()
    assert other.key_id != KEY.key_id
    assert not verify_password("123456", hash_password("123456", other), KEY)
    # Even with the key id forged to ours, the MAC was made with the other secret.
    forged = hash_password("123456", other).replace(other.key_id, KEY.key_id)
    assert not verify_password("123456", forged, KEY)
    assert foreign_key_id(hash_password("123456", other), KEY) == other.key_id
    assert foreign_key_id(hash_password("123456", KEY), KEY) is None
    assert foreign_key_id(LEGACY_123456, KEY) is None


def test_the_key_never_shows_in_its_repr() -> None:
    assert KEY.secret.hex() not in repr(KEY) and str(KEY.secret) not in repr(KEY)


def test_old_scrypt_hashes_still_check() -> None:
    assert is_password_hash(LEGACY_123456) and is_legacy_hash(LEGACY_123456)
    assert hash_key_id(LEGACY_123456) is None
    assert verify_password("123456", LEGACY_123456, KEY)
    assert not verify_password("123457", LEGACY_123456, KEY)


@pytest.mark.parametrize("bad", ["12345", "1234567", "abcdef", "12345a", "", " 123456", "１２３４５６"])
def test_only_six_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        hash_password(bad, KEY)
    assert not verify_password(bad, hash_password("123456", KEY), KEY)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "md5$1$2$3$abc$def",
        "scrypt$16384$8$1$!!!$???",
        "scrypt$1048576$8$1$AAAA$AAAA",  # cost far above the old one: refused, not computed
        "scrypt$x$8$1$AAAA$AAAA",
        "hmac-sha256$0000$AAAA$AAAA",
        f"hmac-sha256${KEY.key_id}$!!!$AAAA",
        f"hmac-sha256${KEY.key_id}$AAAA$AAAA",  # a MAC of the wrong length
        f"hmac-sha256${KEY.key_id}$AAAA",
    ],
)
def test_malformed_hash_never_matches(stored: str) -> None:
    assert not verify_password("123456", stored, KEY)


@pytest.mark.parametrize("stored", [hash_password("654321", KEY), LEGACY_123456], ids=["keyed", "scrypt"])
def test_tampered_hash_does_not_match(stored: str) -> None:
    head, _, mac = stored.rpartition("$")
    flipped = ("B" if mac[0] == "A" else "A") + mac[1:]
    password = "654321" if stored.startswith("hmac") else "123456"
    assert verify_password(password, stored, KEY)
    assert not verify_password(password, f"{head}${flipped}", KEY)
