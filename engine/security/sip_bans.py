"""Refuse, for a while, a source that keeps failing SIP authentication: fail2ban, inside the hotline.

Asterisk 22's PJSIP has no ban of its own; it reports each failed authentication as an AMI security event
(``ChallengeResponseFailed``, ``InvalidPassword``, ``InvalidAccountID``). The controller reads them
(engine.pbx.ami), counts them per source address here, and once a source has ``failures`` of them within
``window_s`` it is written into a PJSIP ``acl`` (engine.pbx.control.PbxControl.apply_sip_bans), which makes
Asterisk answer every request from that address with 403 until the ban ends ``ban_s`` later. Addresses in
``never_ban`` (loopback by default: the box's own tools) are only counted. The ban list is rebuilt empty
when a controller starts; with no controller running nobody is banned.

`BanBook` is pure (time passed in); `SipGuard` applies it through a port.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from engine.clock import Clock

log = logging.getLogger(__name__)
CHECK_EVERY_S = 1.0


@dataclass(frozen=True)
class AuthFailure:
    """One failed SIP authentication, as Asterisk reported it."""

    source_ip: str
    account: str
    kind: str


@dataclass
class BanBook:
    failures: int = 5
    window_s: float = 60.0
    ban_s: float = 600.0
    never_ban: frozenset[str] = frozenset({"127.0.0.1", "::1"})
    _seen: dict[str, list[datetime]] = field(default_factory=dict)
    _bans: dict[str, datetime] = field(default_factory=dict)

    def record(self, failure: AuthFailure, now: datetime) -> bool:
        """Count ``failure``; True when it bans its source now."""
        ip = failure.source_ip
        if ip in self._bans:
            return False
        recent = [t for t in self._seen.get(ip, []) if now - t < timedelta(seconds=self.window_s)]
        recent.append(now)
        self._seen[ip] = recent
        if len(recent) < self.failures or ip in self.never_ban:
            return False
        self._bans[ip] = now + timedelta(seconds=self.ban_s)
        del self._seen[ip]
        return True

    def expire(self, now: datetime) -> list[str]:
        """Lift the bans that are over; the addresses freed."""
        over = [ip for ip, until in self._bans.items() if until <= now]
        for ip in over:
            del self._bans[ip]
        return over

    @property
    def banned(self) -> list[str]:
        return sorted(self._bans)


def render_ban_acl(addresses: Iterable[str]) -> str:
    """The PJSIP config text banning ``addresses`` (pure): an ``acl`` section, or none at all."""
    listed = sorted(set(addresses))
    head = "; Written by the hotline controller (engine/security/sip_bans.py): sources that failed SIP\n" \
           "; authentication too often. Rewritten as bans start and end; empty when nobody is banned.\n"
    if not listed:
        return head
    return head + "[hotline-banned]\ntype = acl\n" + "".join(f"deny = {ip}\n" for ip in listed)


class SipGuard:
    """Feeds AMI security events into a `BanBook` and applies its list (``apply`` writes and reloads)."""

    def __init__(self, book: BanBook, clock: Clock, apply: Callable[[list[str]], None]) -> None:
        self.book = book
        self.clock = clock
        self.apply = apply
        self._dirty = True  # a new controller starts from an empty list, whatever the last one left

    def on_failure(self, failure: AuthFailure) -> None:
        log.warning("SIP authentication failed from %s (%s, account %s)", failure.source_ip, failure.kind,
                    failure.account)
        if self.book.record(failure, self.clock.now()):
            log.warning("banning %s for %.0f s after %d failed SIP authentications", failure.source_ip,
                        self.book.ban_s, self.book.failures)
            self._dirty = True

    async def run(self) -> None:
        while True:
            freed = self.book.expire(self.clock.now())
            if freed:
                log.info("SIP ban over for %s", ", ".join(freed))
                self._dirty = True
            if self._dirty:
                self._dirty = False
                try:
                    await asyncio.to_thread(self.apply, self.book.banned)
                except Exception:
                    self._dirty = True  # try again next round; the supervisor sees repeated failures
                    raise
            await asyncio.sleep(CHECK_EVERY_S)
