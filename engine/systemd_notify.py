"""The two lines of sd_notify the controller needs, without a library: READY=1 and the watchdog ping.

systemd (Type=notify, WatchdogSec=) hands the service an AF_UNIX datagram socket in ``$NOTIFY_SOCKET`` and
the watchdog period in ``$WATCHDOG_USEC``. `feed_watchdog` pings at half the period from the event loop
itself, so a controller whose loop is stuck (not only one that died) is killed and restarted. Outside
systemd both are no-ops.
"""

from __future__ import annotations

import asyncio
import os
import socket


def notify(message: str, environ: dict[str, str] | None = None) -> bool:
    """Send ``message`` to systemd; False when not run by systemd (or the socket is gone)."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    target = "\0" + address[1:] if address.startswith("@") else address  # "@": Linux abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), target)
    except OSError:
        return False
    return True


def watchdog_period_s(environ: dict[str, str] | None = None) -> float | None:
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 1_000_000 if usec > 0 else None


async def feed_watchdog() -> None:
    """Tell systemd we are ready, then ping its watchdog until cancelled."""
    notify("READY=1")
    period = watchdog_period_s()
    if period is None:
        return
    while True:
        notify("WATCHDOG=1")
        await asyncio.sleep(period / 2)
