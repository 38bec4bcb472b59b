"""Get the agents' SIP accounts into Asterisk: write ``pjsip-agents.conf``, reload res_pjsip if it runs.

`write_agents_config` renders every active agent (engine.agents.pjsip) into the instance's config folder
(engine.pbx.control.PbxControl.config_dir; 0600, atomic replace). `apply` also reloads res_pjsip when
Asterisk is running, so an added, re-passworded or removed agent takes effect at once, without a restart
and without touching calls in progress. With Asterisk stopped the file is simply there for its next start.
The CLI (engine.cli.agents) calls `apply` after every change.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy

from engine.agents.config_file import AGENTS_FILE, write_private_file
from engine.agents.pjsip import render_agents_pjsip
from engine.agents.store import SIP_USER_PREFIX, list_agents
from engine.pbx.control import PbxControl
from engine.pbx.credentials import for_settings
from engine.settings import Settings

log = logging.getLogger(__name__)
# A line of `database show registrar/contact`: /registrar/contact/<aor>;@<hash>: {json}
_CONTACT_KEY = re.compile(rf"/registrar/contact/(?P<key>(?P<aor>{re.escape(SIP_USER_PREFIX)}[0-9]+);@[0-9a-f]+)\s*:")


@dataclass(frozen=True)
class Provisioned:
    """Where the file went and whether a running Asterisk reloaded it."""

    path: Path
    reloaded: bool


def _control(settings: Settings) -> PbxControl:
    return PbxControl(settings, for_settings(settings))


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


def apply(settings: Settings, engine: sqlalchemy.Engine, *, drop_registrations: Iterable[str] = ()) -> Provisioned:
    """Write the agents' config, then, if Asterisk runs, reload res_pjsip and drop the registrations of
    agents that are gone and of the SIP users in `drop_registrations` (e.g. after a new password: the
    softphone must register again with it). PbxUnreachable if Asterisk stops meanwhile."""
    path = write_agents_config(settings, engine)
    control = _control(settings)
    if not control.is_running():
        log.info("agents' SIP accounts written to %s; Asterisk is not running, it reads them at start", path)
        return Provisioned(path, reloaded=False)
    control.cli("module reload res_pjsip.so")
    active = {a.sip_user for a in list_agents(engine)}
    dropped = drop_contacts(control, keep=active - set(drop_registrations))
    log.info("agents' SIP accounts written to %s and res_pjsip reloaded; %d registration(s) dropped", path, dropped)
    return Provisioned(path, reloaded=True)


def drop_contacts(control: PbxControl, keep: set[str]) -> int:
    """Forget registered contacts of agent AORs not in `keep`; how many were dropped.

    Asterisk keeps contacts in its astdb (family ``registrar/contact``, key ``<aor>;@<hash>``) and
    does not drop them when their AOR leaves the config: a removed agent would stay listed until the
    registration expires. Only ``agent-`` AORs are touched.
    """
    dropped = 0
    for line in control.cli("database show registrar/contact").splitlines():
        match = _CONTACT_KEY.match(line.strip())
        if match is None or match["aor"] in keep:
            continue
        control.cli(f"database del registrar/contact {match['key']}")
        dropped += 1
    return dropped
