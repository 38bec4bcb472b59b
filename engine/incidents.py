"""Incident announcements (故障通告): the cause of an outage and what to do, mounted on key IVR nodes.

An operator starts one with `hotline incident start` (engine.cli.incidents): the text is rendered at once
into the PBX prompt folders as ``incident-<id>`` and a row lands in ``incidents``. The controller keeps an
``IncidentBoard`` (the IVR's ``Incidents`` port) whose snapshot it refreshes from the database; the runner
asks it, at each node, which announcements to play, and journals ``incident.heard`` with
``{"incident": <id>}``, which `hotline incident list` counts. Collaborators: engine.store.self_service_tables
(schema), engine.prompts.build (rendering), engine.ivr.ports (Incident, Incidents).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, Engine, and_, distinct, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError

from engine.errors import DomainError
from engine.ivr.ports import Incident
from engine.prompts.build import PLAYABLE, render_prompt
from engine.store.self_service_tables import incidents
from engine.store.tables import call_events

logger = logging.getLogger(__name__)

HEARD_EVENT: Final = "incident.heard"
LANGUAGES: Final = ("zh", "en")
_NODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")

PromptDir = Callable[[str], Path]


class BadIncident(DomainError):
    code = "bad-incident"


class IncidentNotFound(DomainError):
    code = "incident-not-found"


@dataclass(frozen=True)
class IncidentRow:
    """One incident as `hotline incident list` shows it; ``heard`` = calls that heard it."""

    id: int
    text: str
    nodes: list[str]
    prompt: str
    started_at: datetime
    until: datetime | None
    stopped_at: datetime | None
    heard: int


@dataclass(frozen=True)
class _Active:
    incident: Incident
    until: datetime | None


class IncidentBoard:
    """The ``Incidents`` port from an in-memory snapshot, so no call waits on the database.

    ``refresh`` is synchronous (run it in a thread from async code); it swaps the snapshot in one
    assignment, so ``active_for`` on the event loop always sees a whole snapshot.
    """

    def __init__(self) -> None:
        self._snapshot: tuple[_Active, ...] = ()
        self._outage = False

    def refresh(self, engine: Engine, now: datetime) -> None:
        """Reload the active incidents; on a database failure keep the last snapshot (logged once)."""
        query = select(incidents.c.id, incidents.c.prompt, incidents.c.nodes, incidents.c.until)
        query = query.where(_active(now)).order_by(incidents.c.started_at, incidents.c.id)
        try:
            with engine.connect() as connection:
                rows = connection.execute(query).all()
        except SQLAlchemyError as exc:
            if not self._outage:
                self._outage = True
                logger.warning("cannot refresh incidents (%s); keeping the %d known", type(exc).__name__,
                               len(self._snapshot))
            return
        if self._outage:
            self._outage = False
            logger.info("incidents refreshed again")
        self._snapshot = tuple(
            _Active(Incident(id=row.id, prompt=row.prompt, nodes=frozenset(row.nodes)), row.until) for row in rows
        )

    def active_for(self, node: str, now: datetime) -> Sequence[Incident]:
        # ``until`` is checked again: an announcement must stop on time even between two refreshes.
        return [a.incident for a in self._snapshot if node in a.incident.nodes and (a.until is None or a.until > now)]


def _active(now: datetime) -> ColumnElement[bool]:
    return and_(
        incidents.c.stopped_at.is_(None),
        incidents.c.started_at <= now,
        or_(incidents.c.until.is_(None), incidents.c.until > now),
    )


def parse_nodes(value: str) -> list[str]:
    """``main_menu,self_service`` → the node names, in order, without duplicates; BadIncident if none."""
    nodes = list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    if not nodes:
        raise BadIncident("name at least one IVR node, e.g. --nodes main_menu")
    for node in nodes:
        if not _NODE.fullmatch(node):
            raise BadIncident(f"{node!r} is not an IVR node name (letters, digits, _ . -)")
    return nodes


def start_incident(
    engine: Engine,
    prompt_dir: PromptDir,
    *,
    text: str,
    nodes: Iterable[str],
    now: datetime,
    until: datetime | None = None,
    text_en: str | None = None,
) -> int:
    """Render the announcement, record the incident and return its id.

    Order: check the input, render into temporary files (the slow, failure-prone part, done before any
    row exists), then in one transaction insert the row and move the files to ``incident-<id>``; a
    failure anywhere leaves neither a row nor a file. Without ``text_en`` the Mandarin recording also
    goes to the English folder, so callers on an English line hear the announcement rather than nothing.
    """
    text = text.strip()
    node_list = list(nodes)
    if not text:
        raise BadIncident("the announcement text is empty")
    if not node_list:
        raise BadIncident("name at least one IVR node")
    if until is not None and until <= now:
        raise BadIncident(f"--until {until.isoformat()} is not in the future")
    with tempfile.TemporaryDirectory(prefix="hotline-incident-") as tmp:
        rendered = {"zh": Path(tmp) / "zh.wav"}
        render_prompt(text, "zh", rendered["zh"])
        if text_en and text_en.strip():
            rendered["en"] = Path(tmp) / "en.wav"
            render_prompt(text_en.strip(), "en", rendered["en"])
        else:
            rendered["en"] = rendered["zh"]
        with engine.begin() as connection:
            incident_id = _insert(connection, text, node_list, now, until)
            name = f"incident-{incident_id}"
            connection.execute(update(incidents).where(incidents.c.id == incident_id).values(prompt=name))
            for language in LANGUAGES:
                _publish(rendered[language], prompt_dir(language), name)
    logger.info("incident %d started on %s", incident_id, ", ".join(node_list))
    return incident_id


def _insert(connection: Connection, text: str, nodes: list[str], now: datetime, until: datetime | None) -> int:
    values: dict[str, Any] = {"text": text, "nodes": nodes, "prompt": "", "started_at": now, "until": until}
    result = connection.execute(insert(incidents).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _publish(source: Path, folder: Path, name: str) -> None:
    """Copy ``source`` to ``folder/<name>.wav`` atomically, removing other formats of an older ``name``
    (Asterisk might prefer an old .gsm left by a previous database's incident with the same id)."""
    folder.mkdir(parents=True, exist_ok=True)
    for ext in PLAYABLE:
        if ext != ".wav":
            with contextlib.suppress(FileNotFoundError):
                (folder / f"{name}{ext}").unlink()
    partial = folder / f".{name}.partial.wav"
    shutil.copyfile(source, partial)
    os.replace(partial, folder / f"{name}.wav")


def stop_incident(engine: Engine, incident_id: int, now: datetime) -> None:
    """Stop announcing ``incident_id``; IncidentNotFound / BadIncident when there is nothing to stop."""
    with engine.begin() as connection:
        row = connection.execute(select(incidents.c.stopped_at).where(incidents.c.id == incident_id)).first()
        if row is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        if row.stopped_at is not None:
            raise BadIncident(f"incident {incident_id} was already stopped at {row.stopped_at.isoformat()}")
        connection.execute(update(incidents).where(incidents.c.id == incident_id).values(stopped_at=now))
    logger.info("incident %d stopped", incident_id)


def list_incidents(engine: Engine, now: datetime, *, include_all: bool = False) -> list[IncidentRow]:
    """Active incidents (or all with ``include_all``), newest first, with how many calls heard each."""
    query = select(incidents).order_by(incidents.c.started_at.desc(), incidents.c.id.desc())
    if not include_all:
        query = query.where(_active(now))
    with engine.connect() as connection:
        rows = connection.execute(query).all()
        heard = _heard_counts(connection)
    return [
        IncidentRow(
            id=row.id,
            text=row.text,
            nodes=list(row.nodes),
            prompt=row.prompt,
            started_at=row.started_at,
            until=row.until,
            stopped_at=row.stopped_at,
            heard=heard.get(row.id, 0),
        )
        for row in rows
    ]


def _heard_counts(connection: Connection) -> dict[int, int]:
    # Grouped by the id as text: PostgreSQL's ->> gives text for 3 and "3" alike; SQLite's json_extract
    # gives 3 or "3", which Python's int() below also merges. A call counts once even if it heard the
    # announcement at several nodes.
    key = call_events.c.data["incident"].as_string()
    query = (
        select(key.label("incident"), func.count(distinct(call_events.c.call_id)).label("calls"))
        .where(call_events.c.kind == HEARD_EVENT)
        .group_by(key)
    )
    counts: dict[int, int] = {}
    for row in connection.execute(query):
        with contextlib.suppress(TypeError, ValueError):
            incident_id = int(row.incident)
            counts[incident_id] = counts.get(incident_id, 0) + int(row.calls)
    return counts
