"""Agents and their SIP accounts in the database (table ``agents``, engine.store.agent_tables).

Each agent is known by a work number (工号, 3-8 digits), the only thing callers are ever told. Adding an
agent creates its SIP account ``agent-<work number>`` with a random password that is returned once and
never stored: the table keeps only the PJSIP digest credential md5("user:realm:password") with the realm
`REALM`, which the rendered pjsip config (engine.agents.pjsip) sends in its challenges. Removal is soft
(``removed_at``) so the journal's history keeps its work numbers; adding a removed work number again
revives it with a new password. Every function checks its input before touching the database and raises
the errors of engine.agents.errors. Callers then run engine.agents.provision.apply so the PBX follows.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, cast

import sqlalchemy
from sqlalchemy import select, update

from engine.agents.errors import AgentExists, AgentNotFound, BadAgent
from engine.store.agent_tables import DEFAULT_TIER, agents

Tier = str
"""``inbound`` (the default) or a reserve tier's name: lower-case letters, digits, '-' and '_'."""

# The digest realm of every agent credential; engine.agents.pjsip writes it into each auth section.
REALM: Final = "hotline"
SIP_USER_PREFIX: Final = "agent-"
PASSWORD_LENGTH: Final = 24
# Letters and digits without look-alikes (0/O/o, 1/l/I): agents type these into softphones.
PASSWORD_ALPHABET: Final = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789"

_WORK_NUMBER = re.compile(r"[0-9]{3,8}")
_SKILL = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_TIER = re.compile(r"[a-z][a-z0-9_-]{0,15}")
NAME_MAX: Final = 64


@dataclass(frozen=True)
class NewAgent:
    """What an operator hands the agent once: the SIP account and its password (not stored anywhere)."""

    work_number: str
    sip_user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class AgentSpec:
    """An agent as an import file or `agent set` describes it (checked by the ``check_*`` functions)."""

    work_number: str
    name: str
    skills: frozenset[str]
    tier: Tier = DEFAULT_TIER


@dataclass(frozen=True)
class ImportResult:
    """What `import_agents` did: agents created (or revived) with their one-time passwords, agents whose
    name, skills or tier changed, and agents already exactly so."""

    created: tuple[NewAgent, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentRecord:
    """One agent as stored. `md5_cred` is only for rendering the PJSIP auth section; never display it."""

    work_number: str
    name: str
    skills: frozenset[str]
    tier: Tier
    sip_user: str
    md5_cred: str = field(repr=False)
    created_at: datetime
    removed_at: datetime | None = None


def sip_user_for(work_number: str) -> str:
    return f"{SIP_USER_PREFIX}{work_number}"


def digest_credential(sip_user: str, password: str, realm: str = REALM) -> str:
    """The SIP digest HA1: md5 of ``user:realm:password`` in hex (what PJSIP calls md5_cred)."""
    return hashlib.md5(f"{sip_user}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def generate_password(length: int = PASSWORD_LENGTH) -> str:
    """A random password of `length` (>= 20) unambiguous letters and digits, at least one of each kind."""
    if length < 20:
        raise ValueError("agent passwords are at least 20 characters")
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


# ----------------------------------------------------------------------------------------- checks


def check_work_number(work_number: str) -> str:
    if not _WORK_NUMBER.fullmatch(work_number):
        raise BadAgent(f"work number {work_number!r} must be 3 to 8 digits")
    return work_number


def check_name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise BadAgent("an agent needs a name")
    if len(cleaned) > NAME_MAX or not cleaned.isprintable():
        raise BadAgent(f"an agent's name is at most {NAME_MAX} printable characters")
    return cleaned


def check_skills(skills: Iterable[str]) -> frozenset[str]:
    """Lower-cased skill names (letters, digits, '-', '_', up to 32 characters); empty names are dropped."""
    result: set[str] = set()
    for raw in skills:
        skill = raw.strip().lower()
        if not skill:
            continue
        if not _SKILL.fullmatch(skill):
            raise BadAgent(f"skill {raw!r} must be 1 to 32 letters, digits, '-' or '_'")
        result.add(skill)
    return frozenset(result)


def check_tier(tier: str) -> Tier:
    """A tier name: 1 to 16 lower-case letters, digits, '-' or '_', starting with a letter."""
    cleaned = tier.strip().lower()
    if not _TIER.fullmatch(cleaned):
        raise BadAgent(f"tier {tier!r} must be 1 to 16 letters, digits, '-' or '_', starting with a letter "
                       f"(e.g. {DEFAULT_TIER}, expert, outbound, qc, backoffice)")
    return cleaned


# ----------------------------------------------------------------------------------------- access


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _record(row: sqlalchemy.Row[tuple[object, ...]]) -> AgentRecord:
    m = row._mapping
    return AgentRecord(work_number=str(m["work_number"]), name=str(m["name"]),
                       skills=frozenset(str(s) for s in cast(list[object], m["skills"])),
                       tier=check_tier(str(m["tier"])), sip_user=str(m["sip_user"]), md5_cred=str(m["md5_cred"]),
                       created_at=cast(datetime, m["created_at"]), removed_at=cast(datetime | None, m["removed_at"]))


def add_agent(engine: sqlalchemy.Engine, work_number: str, name: str, skills: Iterable[str], tier: str = DEFAULT_TIER,
              *, now: datetime | None = None) -> NewAgent:
    """Create the agent and its SIP account; AgentExists if the work number is in use, BadAgent on bad input."""
    work_number = check_work_number(work_number)
    values: dict[str, object] = {"name": check_name(name), "skills": sorted(check_skills(skills)),
                                 "tier": check_tier(tier)}
    sip_user = sip_user_for(work_number)
    password = generate_password()
    values |= {"sip_user": sip_user, "md5_cred": digest_credential(sip_user, password), "created_at": _now(now),
               "removed_at": None}
    with engine.begin() as connection:
        existing = connection.execute(
            select(agents.c.removed_at).where(agents.c.work_number == work_number).with_for_update()).first()
        if existing is None:
            try:
                connection.execute(agents.insert().values(work_number=work_number, **values))
            except sqlalchemy.exc.IntegrityError:
                raise AgentExists(f"agent {work_number} already exists") from None
        elif existing.removed_at is None:
            raise AgentExists(f"agent {work_number} already exists")
        else:
            connection.execute(update(agents).where(agents.c.work_number == work_number).values(**values))
    return NewAgent(work_number=work_number, sip_user=sip_user, password=password)


def set_password(engine: sqlalchemy.Engine, work_number: str) -> str:
    """Give the agent a new random password (the old one stops working at the next provisioning)."""
    check_work_number(work_number)
    agent = get_agent(engine, work_number)
    password = generate_password()
    with engine.begin() as connection:
        result = connection.execute(
            update(agents).where(agents.c.work_number == work_number, agents.c.removed_at.is_(None))
            .values(md5_cred=digest_credential(agent.sip_user, password)))
    if result.rowcount != 1:
        raise AgentNotFound(f"no agent with work number {work_number}")
    return password


def remove_agent(engine: sqlalchemy.Engine, work_number: str, *, now: datetime | None = None) -> None:
    """Mark the agent removed (its SIP account disappears at the next provisioning); history stays."""
    check_work_number(work_number)
    with engine.begin() as connection:
        result = connection.execute(
            update(agents).where(agents.c.work_number == work_number, agents.c.removed_at.is_(None))
            .values(removed_at=_now(now)))
    if result.rowcount != 1:
        raise AgentNotFound(f"no agent with work number {work_number}")


def get_agent(engine: sqlalchemy.Engine, work_number: str) -> AgentRecord:
    """The active agent with this work number; AgentNotFound if there is none (or it was removed)."""
    check_work_number(work_number)
    with engine.connect() as connection:
        row = connection.execute(
            select(agents).where(agents.c.work_number == work_number, agents.c.removed_at.is_(None))).first()
    if row is None:
        raise AgentNotFound(f"no agent with work number {work_number}")
    return _record(row)


def list_agents(engine: sqlalchemy.Engine, *, include_removed: bool = False) -> list[AgentRecord]:
    """Agents ordered by work number (numerically, then as text); active ones only unless asked."""
    query = select(agents)
    if not include_removed:
        query = query.where(agents.c.removed_at.is_(None))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return sorted((_record(row) for row in rows), key=lambda a: (len(a.work_number), a.work_number))


def update_agent(engine: sqlalchemy.Engine, work_number: str, *, name: str | None = None,
                 skills: Iterable[str] | None = None, tier: str | None = None) -> AgentRecord:
    """Change an active agent's name, skills or tier (what is None stays); the agent as it is now."""
    check_work_number(work_number)
    values: dict[str, object] = {}
    if name is not None:
        values["name"] = check_name(name)
    if skills is not None:
        values["skills"] = sorted(check_skills(skills))
    if tier is not None:
        values["tier"] = check_tier(tier)
    if not values:
        raise BadAgent("nothing to change: give a name, skills or a tier")
    with engine.begin() as connection:
        result = connection.execute(
            update(agents).where(agents.c.work_number == work_number, agents.c.removed_at.is_(None)).values(**values))
    if result.rowcount != 1:
        raise AgentNotFound(f"no agent with work number {work_number}")
    return get_agent(engine, work_number)


def import_agents(engine: sqlalchemy.Engine, specs: Sequence[AgentSpec], *,
                  now: datetime | None = None) -> ImportResult:
    """Create or update every agent of ``specs`` in one transaction (all or nothing): new and removed work
    numbers get a SIP account with a new password (returned once), active ones get the name, skills and
    tier given (their password stays). BadAgent before any change on bad input or a repeated work number."""
    checked: list[dict[str, object]] = []
    seen: set[str] = set()
    for spec in specs:
        number = check_work_number(spec.work_number)
        if number in seen:
            raise BadAgent(f"work number {number} is given twice")
        seen.add(number)
        checked.append({"work_number": number, "name": check_name(spec.name),
                        "skills": sorted(check_skills(spec.skills)), "tier": check_tier(spec.tier)})
    created: list[NewAgent] = []
    updated: list[str] = []
    unchanged: list[str] = []
    stamp = _now(now)
    with engine.begin() as connection:
        existing = {str(row.work_number): row for row in connection.execute(
            select(agents.c.work_number, agents.c.name, agents.c.skills, agents.c.tier, agents.c.removed_at))}
        inserts: list[dict[str, object]] = []
        for values in checked:
            number = str(values["work_number"])
            row = existing.get(number)
            if row is not None and row.removed_at is None:
                if (row.name, sorted(row.skills), row.tier) == (values["name"], values["skills"], values["tier"]):
                    unchanged.append(number)
                    continue
                connection.execute(update(agents).where(agents.c.work_number == number).values(
                    name=values["name"], skills=values["skills"], tier=values["tier"]))
                updated.append(number)
                continue
            sip_user = sip_user_for(number)
            password = generate_password()
            account = {**values, "sip_user": sip_user, "md5_cred": digest_credential(sip_user, password),
                       "created_at": stamp, "removed_at": None}
            if row is None:
                inserts.append(account)
            else:
                connection.execute(update(agents).where(agents.c.work_number == number).values(**account))
            created.append(NewAgent(work_number=number, sip_user=sip_user, password=password))
        if inserts:
            connection.execute(agents.insert(), inserts)
    return ImportResult(tuple(created), tuple(updated), tuple(unchanged))
