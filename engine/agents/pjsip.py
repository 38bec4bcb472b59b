"""PJSIP sections for the agents' softphones: a pure function of the agent list and the settings.

For each agent ``agent-<work number>``: an endpoint confined to the dialplan context ``hotline-agents``
(feature codes only, no route out), an auth section (SIP digest, realm engine.agents.store.REALM, the
stored md5 credential: the clear password is never known here), and an AOR taking one contact that
replaces a stale one and is qualified every 15 s so a lost registration is noticed. Sections are named
after the SIP user, so username identification (pjsip.conf's ``endpoint_identifier_order``) finds the
endpoint, and a REGISTER for ``agent-1001`` finds its AOR. engine.agents.provision writes the text to
``pjsip-agents.conf``, which pjsip.conf includes.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.agents.config_file import HEADER
from engine.agents.store import REALM, AgentRecord
from engine.settings import Settings

AGENT_CONTEXT = "hotline-agents"
QUALIFY_FREQUENCY_S = 15


def auth_section(sip_user: str) -> str:
    return f"{sip_user}-auth"


def _agent_sections(agent: AgentRecord, settings: Settings) -> str:
    user = agent.sip_user
    return f"""
; agent {agent.work_number}
[{user}]
type = endpoint
context = {AGENT_CONTEXT}
disallow = all
allow = alaw,ulaw
dtmf_mode = rfc4733
language = {settings.language}
direct_media = no
; Connected-line re-INVITEs break simple softphones and scripted agents; agents do not need them.
send_connected_line = no
; Callers see only the work number; the agent's name never leaves the database.
callerid = "{agent.work_number}" <{agent.work_number}>
trust_id_inbound = no
allow_subscribe = no
allow_transfer = no
auth = {auth_section(user)}
aors = {user}

[{auth_section(user)}]
type = auth
auth_type = md5
username = {user}
realm = {REALM}
md5_cred = {agent.md5_cred}

[{user}]
type = aor
max_contacts = 1
remove_existing = yes
qualify_frequency = {QUALIFY_FREQUENCY_S}
"""


def render_agents_pjsip(agents: Iterable[AgentRecord], settings: Settings) -> str:
    """The whole ``pjsip-agents.conf``: a header, then the sections of each active agent by work number."""
    active = sorted((a for a in agents if a.removed_at is None), key=lambda a: (len(a.work_number), a.work_number))
    return HEADER + "".join(_agent_sections(agent, settings) for agent in active)
