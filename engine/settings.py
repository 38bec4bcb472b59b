"""Settings: one typed object, read from an optional TOML file and ``HOTLINE_*`` environment variables.

Precedence: defaults < ``hotline.toml`` (or the file named by ``HOTLINE_CONFIG`` / ``--config``) < environment.
Environment names are ``HOTLINE_<FIELD>`` and ``HOTLINE_PBX_<FIELD>`` (e.g. ``HOTLINE_PBX_SIP_PORT=5070``).
An unknown key in either place is an error naming the key and where it came from: a typo must never be
silently ignored on a telephone system.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.errors import SettingsError

CONFIG_ENV = "HOTLINE_CONFIG"
DEFAULT_CONFIG_FILE = Path("hotline.toml")
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
    # Adds a pure-dialplan Answer+Playback extension used as the benchmark's baseline.
    bench_baseline: bool = False


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
    pbx: PbxSettings = PbxSettings()

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().absolute()

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
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'hotline.db'}"


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    top = set(Settings.model_fields) - {"pbx"}
    pbx = set(PbxSettings.model_fields)
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith("HOTLINE_") or name == CONFIG_ENV:
            continue
        key = name.removeprefix("HOTLINE_").lower()
        if key.startswith("pbx_") and key.removeprefix("pbx_") in pbx:
            value: Any = raw.split() if key == "pbx_control_command" else raw
            out.setdefault("pbx", {})[key.removeprefix("pbx_")] = value
        elif key in top:
            out[key] = raw
        else:
            valid = sorted(f"HOTLINE_{k.upper()}" for k in top) + sorted(f"HOTLINE_PBX_{k.upper()}" for k in pbx)
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


def load_settings(config_file: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Build Settings from the file (if any) and the environment; raise SettingsError with the culprit."""
    env = dict(os.environ if environ is None else environ)
    path = config_file or (Path(env[CONFIG_ENV]) if env.get(CONFIG_ENV) else None)
    data: dict[str, Any] = {}
    source = "defaults"
    if path is not None or DEFAULT_CONFIG_FILE.exists():
        path = path or DEFAULT_CONFIG_FILE
        source = str(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"settings file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {path} is not valid TOML: {exc}") from None
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
