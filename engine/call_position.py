"""Where a live caller is in their journey, as a record that outlives the controller (STYLE rule 17).

The coroutine serving a call writes the caller's ``CallPosition`` each time it changes: into the journal
(``call.position``, the record reports and overflow read) and into the position book (engine.position_book, a
file of the data folder). A controller that starts after a crash reads the book back for every caller still in
its Stasis app and resumes each one where they were: a menu is said again, a waiting caller keeps their place, a
talking caller stays in their bridge with their agent and recording.

Pure: this module only turns positions into text and back. Secret entries (passwords) never reach a
position: the IVR passes only the variables it may keep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Literal

Stage = Literal["ivr", "queued", "talking", "held", "site", "script", "message", "closing"]
STAGES: tuple[Stage, ...] = ("ivr", "queued", "talking", "held", "site", "script", "message", "closing")


class BadPosition(ValueError):
    """A written position this version cannot resume (another version, hand-edited, cut short by a crash)."""


@dataclass(frozen=True)
class CallPosition:
    """The facts needed to resume a caller; which ones are set depends on ``stage``.

    - ``ivr``: ``node`` (said again from its start), ``vars`` (non-secret entries so far); ``queued_at`` and
      ``priority`` when the caller already waited in a queue (an offer node: keep waiting keeps the place);
    - ``queued``: ``queue``, ``queued_at`` (their place: when they first joined), ``priority``;
    - ``talking`` / ``held``: the queue facts plus ``agent``, ``leg`` (the agent's channel), ``bridge``,
      ``recording`` (the running recording's name), ``answered_at``; ``held_since`` when held;
    - ``site``: put through to an outside overflow site (``agent`` is ``site:<name>``, with leg, bridge and
      recording);
    - ``script``: the silent-call script (``variant``) was running, at ``step`` (the index of the step being
      said or listened for: a resumed caller goes on from that step, not from the script's start);
    - past the IVR (queued, talking, held, site, script), ``node`` is the flow's queue node that handed the
      caller over: a resumed caller nobody can serve goes on at that node's ``unserved``;
    - ``message``: the caller was leaving a message (``recording``; ``node``: the offer node, whose
      ``message`` target follows);
    - ``closing``: the caller was being said goodbye to.
    """

    stage: Stage
    node: str | None = None
    vars: dict[str, str] = field(default_factory=dict)
    queue: str | None = None
    queued_at: datetime | None = None
    priority: int = 0
    agent: str | None = None
    leg: str | None = None
    bridge: str | None = None
    recording: str | None = None
    answered_at: datetime | None = None
    held_since: datetime | None = None
    variant: str | None = None
    step: int | None = None

    def to_text(self) -> str:
        """Compact JSON without the unset facts (a line of the position book per change: best kept short)."""
        return json.dumps(self.journal_data(), ensure_ascii=False, separators=(",", ":"))

    def journal_data(self) -> dict[str, Any]:
        """The set facts as plain JSON values (times as ISO text)."""
        data: dict[str, Any] = {}
        # Field by field rather than dataclasses.asdict, whose deep copy showed in the controller's profile.
        for name in _FIELDS:
            value = getattr(self, name)
            if value is None or value == {} or (name == "priority" and value == 0):
                continue
            data[name] = value.isoformat() if isinstance(value, datetime) else dict(value) if name == "vars" else value
        return data

    @classmethod
    def parse(cls, text: str) -> CallPosition:
        """The position written by ``to_text``; ``BadPosition`` says what is wrong with anything else."""
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise BadPosition(f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise BadPosition("not an object")
        stage = raw.get("stage")
        if stage not in STAGES:
            raise BadPosition(f"unknown stage {stage!r}")
        try:
            return cls(
                stage=stage,
                node=_text(raw, "node"),
                vars={str(k): str(v) for k, v in dict(raw.get("vars") or {}).items()},
                queue=_text(raw, "queue"),
                queued_at=_time(raw, "queued_at"),
                priority=int(raw.get("priority", 0)),
                agent=_text(raw, "agent"),
                leg=_text(raw, "leg"),
                bridge=_text(raw, "bridge"),
                recording=_text(raw, "recording"),
                answered_at=_time(raw, "answered_at"),
                held_since=_time(raw, "held_since"),
                variant=_text(raw, "variant"),
                step=None if raw.get("step") is None else int(raw["step"]),
            )
        except (TypeError, ValueError) as exc:
            raise BadPosition(str(exc)) from None

    def resumable(self) -> str | None:
        """None when the facts the stage needs are all there, else what is missing."""
        needed: dict[Stage, tuple[str, ...]] = {
            "ivr": ("node",), "queued": ("queue", "queued_at"),
            "talking": ("queue", "agent", "leg", "bridge", "recording"),
            "held": ("queue", "agent", "leg", "bridge", "recording", "held_since"),
            "site": ("agent", "leg", "bridge", "recording"),
            "script": ("queue",), "message": (), "closing": ()}
        missing = [name for name in needed[self.stage] if getattr(self, name) is None]
        return f"{self.stage} position without {', '.join(missing)}" if missing else None


_FIELDS = tuple(f.name for f in fields(CallPosition))


def _text(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return None if value is None else str(value)


def _time(raw: dict[str, Any], key: str) -> datetime | None:
    value = raw.get(key)
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError(f"{key} {value!r} has no time zone")
    return moment
