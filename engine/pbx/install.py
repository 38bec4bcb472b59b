"""Install the managed Asterisk 22: a Debian sid root made with debootstrap (recipe in shared/PBX.md).

Idempotent: an existing root whose ``asterisk -V`` answers is reused and only the cheap fix-ups run.
The root is built in ``<root>.partial`` and renamed when complete, so an interrupted install never
leaves a half root that looks installed.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from engine.errors import PbxNotInstalled

PACKAGES = "asterisk,asterisk-modules,asterisk-core-sounds-en-gsm,asterisk-moh-opsound-gsm"
MIRROR = "http://deb.debian.org/debian"
ASTERISK_DIRS = ("/etc/asterisk", "/var/lib/asterisk", "/var/log/asterisk", "/var/spool/asterisk",
                 "/var/cache/asterisk", "/run/asterisk")

Progress = Callable[[str], None]


def asterisk_version(root: Path) -> str | None:
    """The managed Asterisk's version line, or None when the root is missing or broken."""
    if not (root / "usr/sbin/asterisk").exists():
        return None
    result = subprocess.run(["chroot", str(root), "asterisk", "-V"], capture_output=True, text=True,
                            check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def require_installed(root: Path) -> str:
    version = asterisk_version(root)
    if version is None:
        raise PbxNotInstalled(f"the managed PBX is not installed in {root}: run `hotline pbx install`")
    return version


def install(root: Path, progress: Progress) -> str:
    """Make sure the root exists and is fixed up; return the Asterisk version."""
    version = asterisk_version(root)
    if version is None:
        _debootstrap(root, progress)
        version = require_installed(root)
    else:
        progress(f"reusing {version} in {root}")
    _fix_up(root)
    return version


def _debootstrap(root: Path, progress: Progress) -> None:
    if shutil.which("debootstrap") is None:
        raise PbxNotInstalled("debootstrap is not installed: apt-get install debootstrap")
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    progress(f"installing Asterisk 22 from Debian sid into {root} (about 80 s the first time)")
    cmd = ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", "sid", str(partial), MIRROR]
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-20:]
            if line.startswith("I: Retrieving") or line.startswith("I: Base system"):
                progress("  " + line.strip().removeprefix("I: "))
    if proc.returncode != 0:
        raise PbxNotInstalled("debootstrap failed:\n" + "\n".join(tail))
    if root.exists():
        shutil.rmtree(root)
    partial.rename(root)


def _fix_up(root: Path) -> None:
    # Without /etc/hosts Asterisk asks an unreachable DNS server for its own name and stalls for seconds.
    hosts = root / "etc/hosts"
    wanted = f"127.0.0.1 localhost {socket.gethostname()}\n::1 localhost\n"
    if not hosts.exists() or hosts.read_text(encoding="utf-8") != wanted:
        hosts.write_text(wanted, encoding="utf-8")
    for folder in ("var/spool/asterisk/recording", "etc/hotline", "run/hotline", "var/spool/hotline",
                   "var/log/hotline", "var/lib/hotline", "var/cache/hotline"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    # Asterisk runs as root inside the root and must own everything it reads (PBX.md).
    subprocess.run(["chroot", str(root), "chown", "-R", "root:root", *ASTERISK_DIRS], check=False,
                   capture_output=True)
