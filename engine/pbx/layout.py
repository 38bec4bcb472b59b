"""Where one Asterisk instance keeps its files, seen from the host and from inside the PBX root.

The managed PBX is a Debian sid root (shared/PBX.md). Several instances can share one root: each has its
own config, run, spool, log and db folders under ``/etc/hotline/<instance>`` etc., so the test session's
Asterisk never touches the operator's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.settings import Settings

MODULES_DIR = PurePosixPath("/usr/lib/x86_64-linux-gnu/asterisk/modules")
SOUNDS_DIR = PurePosixPath("/usr/share/asterisk/sounds")
# Messages the dialplan fallback records (dialplan/hotline.conf.j2) are named <prefix><call uid>.wav.
FALLBACK_MESSAGE_PREFIX = "fallback-"


@dataclass(frozen=True)
class InstanceDirs:
    """Folders of one instance as Asterisk sees them (absolute inside the PBX root)."""

    etc: PurePosixPath
    run: PurePosixPath
    spool: PurePosixPath
    log: PurePosixPath
    db: PurePosixPath
    cache: PurePosixPath
    modules: PurePosixPath = MODULES_DIR

    @classmethod
    def for_instance(cls, instance: str) -> InstanceDirs:
        return cls(
            etc=PurePosixPath("/etc/hotline") / instance,
            run=PurePosixPath("/run/hotline") / instance,
            spool=PurePosixPath("/var/spool/hotline") / instance,
            log=PurePosixPath("/var/log/hotline") / instance,
            db=PurePosixPath("/var/lib/hotline") / instance,
            cache=PurePosixPath("/var/cache/hotline") / instance,
        )


@dataclass(frozen=True)
class PbxLayout:
    """Host paths of a managed instance; ``inside`` maps a PBX-root path to the host."""

    root: Path
    dirs: InstanceDirs

    @classmethod
    def from_settings(cls, settings: Settings) -> PbxLayout:
        return cls(root=settings.pbx.root, dirs=InstanceDirs.for_instance(settings.pbx.instance))

    def inside(self, path: PurePosixPath) -> Path:
        """The host path of ``path`` in the root, following the root's absolute symlinks inside it
        (Debian links ``sounds/en`` through ``/etc/alternatives``)."""
        current = self.root
        for part in path.relative_to("/").parts:
            current = current / part
            for _ in range(16):
                if not current.is_symlink():
                    break
                target = PurePosixPath(str(current.readlink()))
                current = (self.root / target.relative_to("/")) if target.is_absolute() else current.parent / target
        return current

    @property
    def asterisk_conf(self) -> PurePosixPath:
        return self.dirs.etc / "asterisk.conf"

    @property
    def config_dir(self) -> Path:
        return self.inside(self.dirs.etc)

    @property
    def sounds_dir(self) -> Path:
        return self.inside(SOUNDS_DIR)

    def prompt_dir(self, language: str) -> Path:
        """Where the hotline's prompts in ``language`` live (played as ``sound:hotline/<name>``)."""
        return self.inside(SOUNDS_DIR / language / "hotline")

    @property
    def recordings_dir(self) -> Path:
        return self.inside(self.dirs.spool / "recording")

    def fallback_message_file(self, call_uid: str) -> Path:
        """Where the dialplan fallback recorded the message of call ``call_uid`` (if the caller left one)."""
        return self.recordings_dir / f"{FALLBACK_MESSAGE_PREFIX}{call_uid}.wav"

    @property
    def fallback_cdr_file(self) -> Path:
        return self.inside(self.dirs.log / "cdr-custom" / "Master.csv")

    def instance_dirs(self) -> list[Path]:
        d = self.dirs
        return [self.inside(p) for p in (d.etc, d.run, d.spool, d.spool / "recording", d.log,
                                          d.log / "cdr-custom", d.db, d.cache)]
