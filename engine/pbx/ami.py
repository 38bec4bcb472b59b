"""AMI session through panoramisk: login check and the system-wide events the controller watches.

panoramisk re-logs in by itself after an Asterisk restart (shared/LIBS.md). The AMI user has no
originate/config/command rights; this module only reads events and sends harmless actions.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from panoramisk import Manager

from engine.errors import PbxUnreachable
from engine.security.sip_bans import AuthFailure

log = logging.getLogger(__name__)


# Security events (AMI class "security") that mean someone tried credentials that do not work.
AUTH_FAILURE_EVENTS = ("ChallengeResponseFailed", "InvalidPassword", "InvalidAccountID")


def parse_auth_failure(event: Mapping[str, Any]) -> AuthFailure | None:
    """A security event's source address and account (pure); None when it names no address.
    ``RemoteAddress`` reads ``IPV4/UDP/203.0.113.5/5060`` (IPv6: ``IPV6/UDP/2001:db8::1/5060``)."""
    parts = str(event.get("RemoteAddress", "")).split("/")
    if len(parts) < 4 or not parts[2]:
        return None
    return AuthFailure(source_ip=parts[2].strip("[]"), account=str(event.get("AccountID", "")),
                       kind=str(event.get("Event", "")))


class AmiSession:
    def __init__(self, *, host: str, port: int, user: str, password: str) -> None:
        self.address = f"{host}:{port}"
        self.manager = Manager(host=host, port=port, username=user, secret=password, ping_delay=10,
                               reconnect_timeout=2, log=logging.getLogger("panoramisk"))
        self.manager.register_event("FullyBooted", self._on_fully_booted)
        self.manager.register_event("Shutdown", self._on_shutdown)

    async def connect(self, within: float = 5) -> None:
        """Connect and log in; PbxUnreachable with the reason when that fails."""
        try:
            await asyncio.wait_for(self.manager.connect(), within)
            deadline = asyncio.get_running_loop().time() + within
            while not self.manager.authenticated:
                future = self.manager.authenticated_future
                if future is not None:
                    await asyncio.wait_for(asyncio.shield(future), within)
                    if not self.manager.authenticated:
                        raise PbxUnreachable(f"AMI at {self.address} refused our login")
                elif asyncio.get_running_loop().time() > deadline:
                    raise PbxUnreachable(f"AMI at {self.address} did not log us in")
                else:
                    await asyncio.sleep(0.05)
        except (OSError, TimeoutError) as exc:
            raise PbxUnreachable(f"AMI at {self.address} is unreachable: {exc or 'timeout'}") from None

    async def ping(self) -> None:
        response: Any = await asyncio.wait_for(self.manager.send_action({"Action": "Ping"}), 5)
        if not getattr(response, "success", False):
            raise PbxUnreachable(f"AMI at {self.address} did not answer Ping")

    def close(self) -> None:
        self.manager.close()

    def on_auth_failure(self, handle: Callable[[AuthFailure], None]) -> None:
        """Call ``handle`` for every failed authentication Asterisk reports (SIP, AMI, ARI alike)."""
        def dispatch(_manager: Manager, event: Any) -> None:
            failure = parse_auth_failure(event)
            if failure is not None:
                handle(failure)

        for name in AUTH_FAILURE_EVENTS:
            self.manager.register_event(name, dispatch)

    def _on_fully_booted(self, _manager: Manager, _event: Any) -> None:
        log.info("Asterisk is fully booted")

    def _on_shutdown(self, _manager: Manager, event: Any) -> None:
        log.warning("Asterisk is shutting down (%s); calls will be re-adopted when it is back",
                    event.get("Shutdown", "?"))
