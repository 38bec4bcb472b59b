"""Failed SIP authentications: counted per source, a ban after N within the window, lifted after a while."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.pbx.ami import parse_auth_failure
from engine.private_files import lock_down
from engine.security.sip_bans import AuthFailure, BanBook, render_ban_acl

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _fail(ip: str) -> AuthFailure:
    return AuthFailure(ip, "agent-1001", "ChallengeResponseFailed")


def test_ban_after_n_failures_within_the_window_and_lifted_later() -> None:
    book = BanBook(failures=3, window_s=60, ban_s=600)
    assert not book.record(_fail("203.0.113.5"), T0)
    assert not book.record(_fail("203.0.113.5"), T0 + timedelta(seconds=70))  # the first one is too old now
    assert not book.record(_fail("203.0.113.5"), T0 + timedelta(seconds=80))
    assert book.record(_fail("203.0.113.5"), T0 + timedelta(seconds=90))
    assert book.banned == ["203.0.113.5"]
    assert book.expire(T0 + timedelta(seconds=600)) == []
    assert book.expire(T0 + timedelta(seconds=690)) == ["203.0.113.5"] and book.banned == []


def test_loopback_never_banned() -> None:
    book = BanBook(failures=1)
    assert not book.record(_fail("127.0.0.1"), T0) and book.banned == []


def test_security_event_parsed_once() -> None:
    event = {"Event": "ChallengeResponseFailed", "AccountID": "agent-1001",
             "RemoteAddress": "IPV4/UDP/203.0.113.5/5060"}
    assert parse_auth_failure(event) == AuthFailure("203.0.113.5", "agent-1001", "ChallengeResponseFailed")
    assert parse_auth_failure({"RemoteAddress": "IPV6/UDP/2001:db8::1/5060"}).source_ip == "2001:db8::1"  # type: ignore[union-attr]
    assert parse_auth_failure({"Event": "InvalidPassword"}) is None


def test_acl_text() -> None:
    assert "type = acl" not in render_ban_acl([])
    text = render_ban_acl(["203.0.113.9", "203.0.113.5"])
    assert "[hotline-banned]\ntype = acl\ndeny = 203.0.113.5\ndeny = 203.0.113.9\n" in text


def test_lock_down_repairs_an_old_data_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "hotline.db").write_text("x")
    (folder / "sub" / "f").write_text("x")
    for p in (folder, folder / "sub"):
        p.chmod(0o755)
    for p in (folder / "hotline.db", folder / "sub" / "f"):
        p.chmod(0o644)
    lock_down(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            assert stat.S_IMODE((Path(root) / name).stat().st_mode) & 0o077 == 0
