"""Start, stop, configure and query one Asterisk instance through its CLI control socket.

Managed mode runs ``chroot <root> asterisk -C <instance>/asterisk.conf``; external mode writes configs into
the site's folder and runs the site's own control command (e.g. ``asterisk -rx``), leaving start/stop
to the site's service manager.
"""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.agents.config_file import ensure_agents_file, write_private_file
from engine.errors import DomainError, PbxCommandFailed, PbxUnreachable, PortInUse
from engine.pbx.credentials import PbxCredentials
from engine.pbx.install import require_installed
from engine.pbx.layout import PbxLayout
from engine.pbx.render import render_config
from engine.security.sip_bans import render_ban_acl
from engine.settings import Settings

Progress = Callable[[str], None]
BANS_FILE = "pjsip-banned.conf"
# Modules the engine cannot work without; `hotline pbx check` verifies each is running.
REQUIRED_MODULES = ("chan_pjsip.so", "res_ari.so", "res_stasis.so", "app_stasis.so", "res_http_websocket.so",
                    "res_stasis_playback.so", "res_stasis_recording.so", "app_mixmonitor.so",
                    "func_talkdetect.so", "res_musiconhold.so", "bridge_holding.so", "bridge_simple.so",
                    "cdr_custom.so", "codec_ulaw.so", "codec_alaw.so", "codec_gsm.so", "format_wav.so")


@dataclass(frozen=True)
class PbxStatus:
    running: bool
    version: str | None = None
    uptime: str | None = None
    channels: int | None = None


class PbxControl:
    def __init__(self, settings: Settings, creds: PbxCredentials) -> None:
        self.settings = settings
        self.creds = creds
        self.layout = PbxLayout.from_settings(settings)
        self.managed = settings.pbx.mode == "managed"

    # -- configuration ---------------------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        if self.managed:
            return self.layout.config_dir
        if self.settings.pbx.config_dir is None:
            raise DomainError("external PBX mode needs the setting pbx.config_dir")
        return self.settings.pbx.config_dir

    def write_config(self) -> Path:
        """Render every file and write those that changed (mode 0600: they hold credentials)."""
        if self.managed:
            require_installed(self.layout.root)
            for folder in self.layout.instance_dirs():
                folder.mkdir(parents=True, exist_ok=True)
                folder.chmod(0o700)  # configs with credentials, recordings, CDRs: root's alone
        target = self.config_dir
        target.mkdir(parents=True, exist_ok=True)
        for name, text in render_config(self.settings, self.creds).items():
            path = target / name
            if path.exists() and path.read_text(encoding="utf-8") == text:
                continue
            tmp = path.with_suffix(path.suffix + ".new")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            tmp.replace(path)
        # pjsip.conf includes the agents' file (written by engine.agents.provision) and the ban list (written
        # by the controller, apply_sip_bans): both must exist.
        ensure_agents_file(target)
        if not (target / BANS_FILE).exists():
            write_private_file(target / BANS_FILE, render_ban_acl([]))
        return target

    def apply_sip_bans(self, addresses: list[str]) -> None:
        """Refuse SIP requests from ``addresses`` (403) from now on, and only from them: rewrite the ban
        list and reload res_pjsip when it changed (calls in progress are not touched)."""
        path = self.config_dir / BANS_FILE
        text = render_ban_acl(addresses)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            return
        write_private_file(path, text)
        if self.is_running():
            self.cli("module reload res_pjsip.so")

    # -- CLI ---------------------------------------------------------------------------------------
    def _control_argv(self, command: str) -> list[str]:
        if self.managed:
            return ["chroot", str(self.layout.root), "asterisk", "-C", str(self.layout.asterisk_conf),
                    "-rx", command]
        if not self.settings.pbx.control_command:
            raise DomainError("external PBX mode needs the setting pbx.control_command (e.g. asterisk -rx)")
        return [*self.settings.pbx.control_command, command]

    def cli(self, command: str, timeout: float = 15) -> str:
        """Run one Asterisk CLI command; PbxUnreachable when Asterisk is not running."""
        try:
            result = subprocess.run(self._control_argv(command), capture_output=True, text=True,
                                    timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PbxUnreachable(f"Asterisk did not answer `{command}` within {timeout:.0f} s") from None
        out = result.stdout + result.stderr
        if result.returncode != 0 or "Unable to connect to remote asterisk" in out:
            raise PbxUnreachable(f"Asterisk is not running (instance {self.settings.pbx.instance})")
        return result.stdout

    def is_running(self) -> bool:
        try:
            self.cli("core show version", timeout=5)
        except PbxUnreachable:
            return False
        return True

    def wait_fully_booted(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.cli("core waitfullybooted", timeout=max(1.0, deadline - time.monotonic()))
                return
            except PbxUnreachable:
                time.sleep(0.2)
        raise PbxUnreachable(f"Asterisk did not finish booting within {timeout:.0f} s")

    # -- life cycle ------------------------------------------------------------------------------------
    def _check_ports_free(self) -> None:
        pbx = self.settings.pbx
        wanted = ((socket.SOCK_DGRAM, pbx.sip_bind, pbx.sip_port, "SIP", "pbx.sip_port"),
                  (socket.SOCK_STREAM, "127.0.0.1", pbx.ari_port, "ARI/HTTP", "pbx.ari_port"),
                  (socket.SOCK_STREAM, "127.0.0.1", pbx.ami_port, "AMI", "pbx.ami_port"))
        for kind, host, port, what, setting in wanted:
            with socket.socket(socket.AF_INET, kind) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((host, port))
                except OSError:
                    proto = "udp" if kind == socket.SOCK_DGRAM else "tcp"
                    raise PortInUse(f"{what} port {host}:{port}/{proto} is already in use by another program; "
                                    f"free it or change the setting {setting}") from None

    def start(self, progress: Progress, boot_timeout: float = 60) -> bool:
        """Write the config and start Asterisk unless it already runs; True when this call started it."""
        if not self.managed:
            raise DomainError("the PBX is external: start it with the site's service manager")
        self.write_config()
        if self.is_running():
            progress("PBX already running: reloading its configuration")
            self.reload()
            return False
        self._check_ports_free()
        progress(f"starting Asterisk (instance {self.settings.pbx.instance})")
        limit = self.settings.pbx.max_open_files

        def prepare_process() -> None:
            # Asterisk never sets its own umask: with the usual 022 its recordings, messages and CDR lines
            # (caller numbers, voices) would be born world-readable. 077 makes every file it writes 0600.
            os.umask(0o077)
            # ~5.4 descriptors per channel: the usual 1024 caps a box near 190 channels.
            # Sandboxes may forbid raising the hard limit: then take all the hard limit allows.
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
            except (ValueError, OSError):
                hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

        console_log = self.settings.data_dir / f"asterisk-{self.settings.pbx.instance}.log"
        console_log.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(console_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as out:
            subprocess.run(["chroot", str(self.layout.root), "asterisk", "-C", str(self.layout.asterisk_conf)],
                           stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                           preexec_fn=prepare_process, check=False, timeout=30)
        self.wait_fully_booted(boot_timeout)
        progress("PBX fully booted")
        return True

    def reload(self) -> None:
        self.write_config()
        self.cli("module reload res_pjsip.so")
        self.cli("dialplan reload")
        self.cli("module reload cdr_custom.so")

    def stop(self, timeout: float = 30) -> bool:
        """Stop Asterisk now (calls are cut); False when it was not running."""
        if not self.managed:
            raise DomainError("the PBX is external: stop it with the site's service manager")
        if not self.is_running():
            return False
        with contextlib.suppress(PbxUnreachable):  # the socket closes under our feet while it stops
            self.cli("core stop now", timeout=timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.is_running():
                return True
            time.sleep(0.2)
        raise PbxCommandFailed(f"Asterisk did not stop within {timeout:.0f} s")

    def restart_now(self) -> None:
        """Restart the running Asterisk in place (used by recovery tests and `pbx up` after upgrades)."""
        self.cli("core restart now")

    def status(self) -> PbxStatus:
        try:
            version = self.cli("core show version", timeout=5).strip()
        except PbxUnreachable:
            return PbxStatus(running=False)
        uptime = self.cli("core show uptime seconds").splitlines()[0].removeprefix("System uptime:").strip()
        channels_line = self.cli("core show channels count").strip().splitlines()
        active = next((int(line.split()[0]) for line in channels_line if "active channel" in line), None)
        return PbxStatus(running=True, version=version, uptime=uptime, channels=active)

    def missing_modules(self) -> list[str]:
        out = self.cli("module show")
        loaded = {cols[0] for cols in (line.split() for line in out.splitlines())
                  if len(cols) >= 2 and "Running" in cols and "Not" not in cols}
        return [m for m in REQUIRED_MODULES if m not in loaded]
