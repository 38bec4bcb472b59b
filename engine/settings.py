"""Settings: one typed object, read from an optional TOML file and ``HOTLINE_*`` environment variables.

Precedence: defaults < one settings file < environment. The file is the first of: ``--config``,
``$HOTLINE_CONFIG``, ``./hotline.toml``, ``/etc/hotline/hotline.toml`` (so `hotline` works from any folder
on a server); a named file that does not exist is an error, the last two are optional. Relative paths in a
file (``data_dir``, ``flows_dir``, ``queues_file``) are relative to that file's folder, not to wherever the
command was typed.
Environment names are ``HOTLINE_<FIELD>``, ``HOTLINE_PBX_<FIELD>`` and ``HOTLINE_CALLBACK_<FIELD>`` (e.g.
``HOTLINE_PBX_SIP_PORT=5070``).
An unknown key in either place is an error naming the key and where it came from: a typo must never be
silently ignored on a telephone system.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.errors import SettingsError

CONFIG_ENV = "HOTLINE_CONFIG"
DEFAULT_CONFIG_FILE = Path("hotline.toml")
SYSTEM_CONFIG_FILE = Path("/etc/hotline/hotline.toml")
_FILE_RELATIVE = ("data_dir", "flows_dir", "queues_file", "password_key_file")
DEFAULT_PBX_ROOT = Path("/var/lib/hotline/pbx-root")


class PbxSettings(BaseModel):
    """Where Asterisk lives and how we reach it. All control interfaces stay on loopback."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["managed", "external"] = "managed"
    root: Path = DEFAULT_PBX_ROOT
    instance: str = Field(default="hotline", pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")
    # External mode: the site's Asterisk config folder and how to run one CLI command on it.
    config_dir: Path | None = None
    control_command: list[str] | None = None
    sip_bind: str = "127.0.0.1"
    sip_port: int = Field(default=5060, ge=1, le=65535)
    ari_port: int = Field(default=8088, ge=1, le=65535)
    ami_port: int = Field(default=5038, ge=1, le=65535)
    rtp_start: int = Field(default=10000, ge=1024, le=65535)
    rtp_end: int = Field(default=20000, ge=1024, le=65535)
    max_open_files: int = Field(default=65536, ge=1024)
    # A source with this many failed SIP authentications within the window is refused (403) for
    # sip_ban_seconds (engine/security/sip_bans.py); addresses in sip_ban_never are never refused.
    sip_ban_failures: int = Field(default=5, ge=1, le=1000)
    sip_ban_window_s: float = Field(default=60, gt=0)
    sip_ban_seconds: float = Field(default=600, gt=0)
    sip_ban_never: list[str] = ["127.0.0.1", "::1"]
    # Adds a pure-dialplan Answer+Playback extension used as the benchmark's baseline.
    bench_baseline: bool = False


# A DNS name or an IP address. It is written into pjsip.conf, so nothing else may pass (spaces, newlines, ';');
# fullmatch, because '$' would let a trailing newline through.
_HOST_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(\.{_HOST_LABEL})*")
_CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


class CallbackSettings(BaseModel):
    """Booked callbacks: the outbound SIP peer customers are called through, retries and calling hours.

    Without ``trunk_host`` callers are never offered a callback. The window is in ``Settings.timezone``
    and may not wrap past midnight: nobody should be rung at night because of a typo.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    trunk_host: str | None = None
    trunk_port: int = Field(default=5060, ge=1, le=65535)
    max_attempts: int = Field(default=3, ge=1, le=10)
    retry_after_s: float = Field(default=300, gt=0)
    # How long the customer's phone rings before the attempt counts as not answered.
    ring_timeout_s: float = Field(default=30, gt=0, le=120)
    window_start: str = "08:00"
    window_end: str = "21:00"

    @field_validator("trunk_host")
    @classmethod
    def _host_or_address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # A zone suffix (fe80::1%eth0) may hold any text, newlines included: refused with the rest.
        if "%" not in value:
            try:
                return str(ipaddress.ip_address(value))
            except ValueError:
                pass
        if not _HOST_NAME.fullmatch(value):
            raise ValueError(f"{value!r} is neither a host name nor an IP address")
        return value

    @field_validator("window_start", "window_end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not _CLOCK_TIME.fullmatch(value):
            raise ValueError(f"{value!r} is not a time of day as HH:MM (00:00..23:59)")
        return value

    @model_validator(mode="after")
    def _window_within_one_day(self) -> CallbackSettings:
        if self.window_start >= self.window_end:  # zero-padded HH:MM compares like times
            raise ValueError(f"window_start {self.window_start} must be before window_end {self.window_end} "
                             "(a window across midnight is not allowed)")
        return self

    @property
    def enabled(self) -> bool:
        return self.trunk_host is not None

    @property
    def window_opens(self) -> time:
        return time.fromisoformat(self.window_start)

    @property
    def window_closes(self) -> time:
        return time.fromisoformat(self.window_end)

    @property
    def trunk_contact(self) -> str | None:
        """``host:port`` for a SIP URI (an IPv6 address in brackets); None when callbacks are off."""
        if self.trunk_host is None:
            return None
        host = f"[{self.trunk_host}]" if ":" in self.trunk_host else self.trunk_host
        return f"{host}:{self.trunk_port}"


class OverflowSite(BaseModel):
    """An outside overflow site (a partner center): the controller puts callers through to
    ``number`` at ``host:port`` over SIP, like the callback trunk (no dialplan route leads there)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    port: int = Field(default=5060, ge=1, le=65535)
    # The number dialled at the site (their hotline); default: this hotline's own number.
    number: str | None = Field(default=None, pattern=r"^[0-9]{3,15}$")
    ring_timeout_s: float = Field(default=30, gt=0, le=120)

    @property
    def contact(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


class Settings(BaseModel):
    """The whole engine's configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hotline_number: str = Field(default="10086", pattern=r"^[0-9]{3,15}$")
    language: Literal["zh", "en"] = "zh"
    data_dir: Path = Field(default=Path(".hotline"), validate_default=True)
    database_url: str | None = None
    stasis_app: str = Field(default="hotline", pattern=r"^[a-z][a-z0-9_-]{0,30}$")
    # The IVR flows operators edit (one YAML file per flow); default: the ivr_flows/ folder shipped here.
    flows_dir: Path | None = None
    # ACD queues (skills, ring timeout, service level, ...); default: acd/queues.yaml shipped here.
    queues_file: Path | None = None
    # After-call work length and how many unanswered offers in a row pause an agent.
    acw_seconds: float = Field(default=60, ge=0, le=3600)
    max_missed_offers: int = Field(default=2, ge=1, le=10)
    # Business hours, greetings by time of day and dates in the journal's views use this zone.
    timezone: str = "Asia/Shanghai"
    # Self-service look-ups: the journal database (default) or an HTTP service of the operator's.
    self_service_url: str | None = None
    self_service_timeout: float = Field(default=2.0, gt=0, le=30)
    # The secret the service-password hashes are made with (engine.selfservice.password_key): kept out of the
    # database on purpose; default: password-key in data_dir.
    password_key_file: Path | None = None
    # The surge plan's alerts (seats needed) go to this command, text on stdin (e.g. a script paging the duty
    # manager); empty: alerts are journaled and shown only.
    overflow_alert_command: list[str] = Field(default_factory=list)
    # Outside overflow sites queues may send callers to (`on_max_wait: site:<name>`), by name.
    overflow_sites: dict[str, OverflowSite] = Field(default_factory=dict)
    pbx: PbxSettings = PbxSettings()
    callback: CallbackSettings = CallbackSettings()

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("overflow_sites")
    @classmethod
    def _site_names(cls, value: dict[str, OverflowSite]) -> dict[str, OverflowSite]:
        bad = [name for name in value if not re.fullmatch(r"[a-z][a-z0-9_-]{0,30}", name)]
        if bad:
            raise ValueError(f"overflow site name {bad[0]!r} must be lower-case letters, digits, _ and -")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def flows_folder(self) -> Path:
        return self.flows_dir or Path(__file__).resolve().parents[1] / "ivr_flows"

    @property
    def queues_path(self) -> Path:
        return self.queues_file or Path(__file__).resolve().parents[1] / "acd" / "queues.yaml"

    @property
    def password_key_path(self) -> Path:
        return self.password_key_file or self.data_dir / "password-key"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hotline.db'}"


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    # Nested sections: HOTLINE_<SECTION>_<FIELD> sets Settings.<section>.<field>.
    sections: dict[str, set[str]] = {"pbx": set(PbxSettings.model_fields),
                                     "callback": set(CallbackSettings.model_fields)}
    top = set(Settings.model_fields) - set(sections)
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("HOTLINE_") or name == CONFIG_ENV:
            continue
        key = name.removeprefix("HOTLINE_").lower()
        section = next((s for s, fields in sections.items()
                        if key.startswith(f"{s}_") and key.removeprefix(f"{s}_") in fields), None)
        if section is not None:
            value: Any = raw.split() if key == "pbx_control_command" else raw
            out.setdefault(section, {})[key.removeprefix(f"{section}_")] = value
        elif key in top:
            out[key] = raw
        else:
            valid = sorted(f"HOTLINE_{k.upper()}" for k in top) + [
                f"HOTLINE_{s.upper()}_{k.upper()}" for s, fields in sections.items() for k in sorted(fields)]
            raise SettingsError(f"unknown setting {name} in the environment; known: {', '.join(valid)}")
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def find_config_file(config_file: Path | None, environ: dict[str, str], cwd: Path,
                     system_file: Path = SYSTEM_CONFIG_FILE) -> Path | None:
    """The settings file to read: --config, $HOTLINE_CONFIG, ./hotline.toml, /etc/hotline/hotline.toml."""
    if config_file is not None:
        return config_file
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    for candidate in (cwd / DEFAULT_CONFIG_FILE, system_file):
        if candidate.is_file():
            return candidate
    return None


def _anchor_paths(data: dict[str, Any], folder: Path) -> dict[str, Any]:
    anchored = dict(data)
    for key in _FILE_RELATIVE:
        value = anchored.get(key)
        if isinstance(value, str) and not Path(value).expanduser().is_absolute():
            anchored[key] = str(folder / value)
    return anchored


def load_settings(config_file: Path | None = None, environ: dict[str, str] | None = None, *,
                  cwd: Path | None = None, system_file: Path = SYSTEM_CONFIG_FILE) -> Settings:
    """Build Settings from the file (if any) and the environment; raise SettingsError with the culprit."""
    env = dict(os.environ if environ is None else environ)
    path = find_config_file(config_file, env, cwd or Path.cwd(), system_file)
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"settings file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None
        data = _anchor_paths(data, path.absolute().parent)
    overrides = _env_overrides(env)
    if overrides:
        source = f"{source} + environment"
    try:
        return Settings.model_validate(_merge(data, overrides))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "extra_forbidden":
            # Unknown environment names were refused above, so an unknown key comes from the file.
            raise SettingsError(f"unknown setting '{where}' in {path}") from None
        raise SettingsError(f"bad value for setting '{where}' in {source}: {first['msg']}") from None
