"""Get the agents' SIP accounts into Asterisk: write ``pjsip-agents.conf``, reload res_pjsip if it runs.

`write_agents_config` renders every active agent (engine.agents.pjsip) into the instance's config folder
(engine.pbx.control.PbxControl.config_dir; 0600, atomic replace). `apply` also reloads res_pjsip when
Asterisk is running, so an added, re-passworded or removed agent takes effect at once, without a restart
and without touching calls in progress. With Asterisk stopped the file is simply there for its next start.
The CLI (engine.cli.agents) calls `apply` after every change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy

from engine.agents.config_file import AGENTS_FILE, write_private_file
from engine.agents.pjsip import render_agents_pjsip
from engine.agents.store import list_agents
from engine.pbx.control import PbxControl
from engine.pbx.credentials import load_or_create
from engine.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Provisioned:
    """Where the file went and whether a running Asterisk reloaded it."""

    path: Path
    reloaded: bool


def _control(settings: Settings) -> PbxControl:
    return PbxControl(settings, load_or_create(settings.data_dir))


def check(settings: Settings) -> Path:
    """The config folder agents' accounts go to; raises first (e.g. external mode without pbx.config_dir),
    so the CLI refuses before changing the database."""
    return _control(settings).config_dir


def write_agents_config(settings: Settings, engine: sqlalchemy.Engine) -> Path:
    """Write ``pjsip-agents.conf`` for the active agents into the instance's config folder; its path."""
    text = render_agents_pjsip(list_agents(engine), settings)
    folder = _control(settings).config_dir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / AGENTS_FILE
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        write_private_file(path, text)
    return path


def apply(settings: Settings, engine: sqlalchemy.Engine) -> Provisioned:
    """Write the agents' config, then reload res_pjsip if Asterisk runs (PbxUnreachable if it stops meanwhile)."""
    path = write_agents_config(settings, engine)
    control = _control(settings)
    if not control.is_running():
        log.info("agents' SIP accounts written to %s; Asterisk is not running, it reads them at start", path)
        return Provisioned(path, reloaded=False)
    control.cli("module reload res_pjsip.so")
    log.info("agents' SIP accounts written to %s and res_pjsip reloaded", path)
    return Provisioned(path, reloaded=True)
