"""systemd units for the PBX and the controller: a pure function of the settings and a few paths.

The controller unit restarts on failure after 2 s and has a watchdog (Type=notify, WatchdogSec=30: the
controller pings from its event loop, engine.systemd_notify), so a crashed or stuck controller is back
in seconds without a person; callers meanwhile get the dialplan fallback (apology and message). The PBX
unit exists for the managed Asterisk only (a site's own Asterisk has its own unit): Asterisk daemonizes
itself, so it is Type=forking with the instance's pid file. Both run with umask 077.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.pbx.layout import PbxLayout
from engine.settings import Settings

WATCHDOG_S = 30
RESTART_S = 2


@dataclass(frozen=True)
class UnitNames:
    pbx: str
    controller: str


def unit_names(instance: str) -> UnitNames:
    base = "hotline" if instance == "hotline" else f"hotline-{instance}"
    return UnitNames(pbx=f"{base}-pbx.service", controller=f"{base}.service")


def render_units(settings: Settings, *, hotline_bin: Path, config_file: Path, user: str = "root") -> dict[str, str]:
    """Unit file name -> text."""
    names = unit_names(settings.pbx.instance)
    env = f"Environment=HOTLINE_CONFIG={config_file}\n"
    managed = settings.pbx.mode == "managed"
    units: dict[str, str] = {}
    if managed:
        layout = PbxLayout.from_settings(settings)
        pid_file = layout.inside(layout.dirs.run / "asterisk.pid")
        units[names.pbx] = (
            "[Unit]\n"
            f"Description=hotline PBX (managed Asterisk, instance {settings.pbx.instance})\n"
            "After=network-online.target\nWants=network-online.target\n\n"
            "[Service]\n"
            "Type=forking\n"
            f"{env}"
            f"ExecStart={hotline_bin} pbx up\n"
            f"ExecStop={hotline_bin} pbx down\n"
            f"PIDFile={pid_file}\n"
            "Restart=on-failure\n"
            f"RestartSec={RESTART_S}\n"
            f"LimitNOFILE={settings.pbx.max_open_files}\n"
            "UMask=0077\n\n"
            "[Install]\nWantedBy=multi-user.target\n")
    requires = f"Requires={names.pbx}\nAfter={names.pbx}\n" if managed else "After=network-online.target\n"
    units[names.controller] = (
        "[Unit]\n"
        f"Description=hotline {settings.hotline_number} controller (ARI/AMI)\n"
        f"{requires}\n"
        "[Service]\n"
        "Type=notify\n"
        "NotifyAccess=main\n"
        f"User={user}\n"
        f"{env}"
        f"ExecStart={hotline_bin} run\n"
        "Restart=on-failure\n"
        f"RestartSec={RESTART_S}\n"
        f"WatchdogSec={WATCHDOG_S}\n"
        # SIGTERM: the controller hands its live callers to the fallback before it exits.
        "KillSignal=SIGTERM\nTimeoutStopSec=20\n"
        "UMask=0077\n\n"
        "[Install]\nWantedBy=multi-user.target\n")
    return units
