"""Service passwords: scrypt with a random salt, exactly six digits, nothing readable stored."""

from __future__ import annotations

import pytest

from engine.selfservice.passwords import hash_password, is_password_hash, verify_password


def test_hash_verifies_and_hides_the_password() -> None:
    stored = hash_password("123456")
    assert "123456" not in stored
    assert stored.startswith("scrypt$") and is_password_hash(stored)
    assert len(stored) <= 200  # fits accounts.password_hash
    assert verify_password("123456", stored)
    assert not verify_password("123457", stored)


def test_salt_differs_per_hash() -> None:
    assert hash_password("123456") != hash_password("123456")


@pytest.mark.parametrize("bad", ["12345", "1234567", "abcdef", "12345a", "", " 123456", "１２３４５６"])
def test_only_six_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError):
        hash_password(bad)
    assert not verify_password(bad, hash_password("123456"))


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "md5$1$2$3$abc$def",
        "scrypt$16384$8$1$!!!$???",
        "scrypt$1048576$8$1$AAAA$AAAA",  # cost far above ours: refused, not computed
        "scrypt$x$8$1$AAAA$AAAA",
    ],
)
def test_malformed_hash_never_matches(stored: str) -> None:
    assert not verify_password("123456", stored)


def test_tampered_key_does_not_match() -> None:
    stored = hash_password("654321")
    head, _, key = stored.rpartition("$")
    flipped = ("B" if key[0] == "A" else "A") + key[1:]
    assert not verify_password("654321", f"{head}${flipped}")
