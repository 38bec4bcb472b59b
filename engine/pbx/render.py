"""Render the Asterisk configuration of one instance: a pure function of settings and credentials.

Templates live in ``asterisk-conf/`` (one per Asterisk file) and ``dialplan/``; the PBX tests run
exactly what this returns, and golden tests pin it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from engine.pbx.credentials import PbxCredentials
from engine.pbx.layout import FALLBACK_MESSAGE_PREFIX, InstanceDirs
from engine.settings import Settings

PROJECT_DIR = Path(__file__).resolve().parents[2]
TEMPLATE_DIRS = (PROJECT_DIR / "asterisk-conf", PROJECT_DIR / "dialplan")
# Output file name for each template that does not simply drop its ".j2".
RENAMES = {"hotline.conf.j2": "hotline-dialplan.conf"}
# A site's own Asterisk keeps its own directories and module policy: we never write these there.
MANAGED_ONLY = frozenset({"asterisk.conf", "modules.conf", "queues.conf"})


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in TEMPLATE_DIRS]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def template_context(settings: Settings, creds: PbxCredentials) -> dict[str, Any]:
    pbx = settings.pbx
    return {
        "instance": pbx.instance,
        "dirs": InstanceDirs.for_instance(pbx.instance),
        "max_open_files": pbx.max_open_files,
        "language": settings.language,
        "sip_bind": pbx.sip_bind,
        "sip_port": pbx.sip_port,
        "ari_port": pbx.ari_port,
        "ami_port": pbx.ami_port,
        "rtp_start": pbx.rtp_start,
        "rtp_end": pbx.rtp_end,
        "ari_user": creds.ari_user,
        "ari_password": creds.ari_password,
        "ami_user": creds.ami_user,
        "ami_password": creds.ami_password,
        "number": settings.hotline_number,
        "app": settings.stasis_app,
        "fallback_message_prefix": FALLBACK_MESSAGE_PREFIX,
        "bench_baseline": pbx.bench_baseline,
        # host:port of the outbound SIP peer for booked callbacks; None renders no trunk at all.
        "callback_trunk": settings.callback.trunk_contact,
        # Outside overflow sites: an endpoint each, dialled only by the controller.
        "overflow_sites": [{"name": name, "contact": site.contact}
                           for name, site in sorted(settings.overflow_sites.items())],
    }


def render_config(settings: Settings, creds: PbxCredentials) -> dict[str, str]:
    """Map each Asterisk config file name to its text."""
    env = _environment()
    context = template_context(settings, creds)
    files: dict[str, str] = {}
    for directory in TEMPLATE_DIRS:
        for template in sorted(directory.glob("*.j2")):
            name = RENAMES.get(template.name, template.name.removesuffix(".j2"))
            if settings.pbx.mode == "external" and name in MANAGED_ONLY:
                continue
            files[name] = env.get_template(template.name).render(context)
    return files
