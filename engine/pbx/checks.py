"""Is the PBX usable by this hotline: booted, modules loaded, ARI and AMI logins accepted.

Shared by `hotline pbx check` (every line printed) and `hotline up` (which refuses to say "up" on any
failure). A refused login is explained: with credentials kept per instance (engine.pbx.credentials) it means
the running Asterisk read other passwords than this instance's file (configs edited by hand or left by an
older version); restarting the PBX makes it read the current ones.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from engine.errors import HotlineError, PbxUnreachable
from engine.pbx.ami import AmiSession
from engine.pbx.ari import AriClient, AriError
from engine.pbx.control import PbxControl

_RESTART_HINT = ("the running Asterisk holds other credentials than this PBX instance's (configured by another "
                 "checkout or by hand); restart it so it reads them: `hotline pbx down`, then `hotline up`")


@dataclass(frozen=True)
class CheckResult:
    what: str
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def line(self) -> str:
        return self.what if self.problem is None else f"{self.what}: {self.problem}"


def ari_problem(exc: Exception) -> str:
    """One line for a failed ARI login (pure)."""
    if isinstance(exc, AriError) and exc.status in (401, 403):
        return f"refused ({exc.status}): {_RESTART_HINT}"
    return f"failed: {exc}"


async def check_logins(control: PbxControl) -> list[CheckResult]:
    settings, creds = control.settings, control.creds
    results: list[CheckResult] = []
    async with AriClient(host="127.0.0.1", port=settings.pbx.ari_port, user=creds.ari_user,
                         password=creds.ari_password, app=settings.stasis_app) as ari:
        try:
            info = await ari.info()
            results.append(CheckResult(f"ARI login (Asterisk {info.get('system', {}).get('version', '?')})"))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a report line
            results.append(CheckResult("ARI login", ari_problem(exc)))
    ami = AmiSession(host="127.0.0.1", port=settings.pbx.ami_port, user=creds.ami_user,
                     password=creds.ami_password)
    try:
        await ami.connect()
        await ami.ping()
        results.append(CheckResult("AMI login"))
    except HotlineError as exc:
        refused = "refused our login" in exc.message
        results.append(CheckResult("AMI login", f"refused: {_RESTART_HINT}" if refused else exc.message))
    finally:
        ami.close()
    return results


def check_pbx(control: PbxControl) -> list[CheckResult]:
    """Every check, in order; blocking (runs its own event loop for the logins)."""
    results: list[CheckResult] = []
    try:
        if not control.is_running():
            raise PbxUnreachable(f"Asterisk is not running (instance {control.settings.pbx.instance})")
        control.wait_fully_booted(timeout=20)
        results.append(CheckResult("core waitfullybooted"))
        missing = control.missing_modules()
        results.append(CheckResult("modules loaded", f"missing: {', '.join(missing)}" if missing else None))
    except PbxUnreachable as exc:
        results.append(CheckResult("core waitfullybooted", exc.message))
    return results + asyncio.run(check_logins(control))
