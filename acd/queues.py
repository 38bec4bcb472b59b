"""Queue settings operators edit (``acd/queues.yaml``) → ``QueueConfig`` values, with file:line problems.

Read with ``ivr_flows.yaml_lines``, like flows: the YAML is composed into PyYAML's node tree, never
constructed, so every value keeps its line and its text as written (no YAML 1.1 guesses), and every problem
of the file is collected and raised together as one ``QueueConfigError``. ``acd.routing`` and the
controller's queue service use the result; nothing here knows about Asterisk. A queue's overflow ladder
(``overflow:``, in ``defaults`` or per queue) and the file's ``tiers:`` are read by ``acd.overflow_config``
with the same reader, so a bad ladder refuses the file like any other problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from acd.model import QueueName
from acd.overflow import Ladder
from acd.overflow_config import DEFAULT_TIERS, OFF, parse_ladder, parse_tiers
from engine.errors import SettingsError
from ivr_flows.errors import Problem
from ivr_flows.yaml_lines import INT_TAG, NAME, Reader, compose, line_of, read_text, scalar_text

DEFAULT_FILE = Path(__file__).with_name("queues.yaml")
TOP_LEVEL = ("tiers", "defaults", "queues")


class QueueConfigError(SettingsError):
    """The queue file cannot be used; ``problems`` lists everything wrong with it (``file:line: message``)."""

    code = "bad-queue-config"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "bad queue config")


@dataclass(frozen=True)
class QueueConfig:
    """One queue. ``skills``: an agent needs all of them. Times in seconds except ``repeat_window_h``.
    Per-call overflow: ``on_max_wait`` says what happens to a caller who waited ``max_wait_s`` or whose
    expected wait on joining is above ``max_expected_wait_s`` (0: not judged), ``on_no_agent`` to a caller
    when nobody is signed in: ``offer-message`` (message, callback or keep waiting), ``queue:<name>`` (moved
    to that queue, keeping their place by original arrival time) or ``site:<name>`` (put through to an
    outside overflow site of the settings' ``overflow_sites``).
    ``hold_*`` time the hold script, ``silent_wait_s`` the silent-call script's pauses; ``auto_silent_after_s``
    (0 = off) starts that script when the caller has not spoken that long after the agent answered.
    ``transfer_code`` is what agents key (``*9<code>#``) to send a caller to this queue. ``overflow`` is the
    queue's ladder of reserve stages (``acd.overflow``), None when it has none."""

    name: QueueName
    skills: frozenset[str]
    service_level_s: float = 20
    announce_every_s: float = 30
    moh_class: str = "default"
    ring_timeout_s: float = 15
    max_wait_s: float = 300
    on_max_wait: str = "offer-message"
    on_no_agent: str = "offer-message"
    max_expected_wait_s: float = 0
    priority_bonus_repeat: int = 5
    repeat_window_h: float = 24
    hold_reassure_every_s: float = 30
    hold_target_s: float = 60
    hold_limit_s: float = 180
    silent_wait_s: float = 5
    auto_silent_after_s: float = 0
    transfer_code: str | None = None
    overflow: Ladder | None = None
    file: str = ""
    line: int = 0
    lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)


class _Reader(Reader):
    """The shared reader plus the queue file's notion of a name and its tiers (for the ladders)."""

    tiers: tuple[str, ...] = DEFAULT_TIERS

    def name(self, node: yaml.Node, what: str) -> str | None:
        value = scalar_text(node)
        if value is not None and NAME.match(value):
            return value
        self.fail(line_of(node), f"{what} must be a name (letters, digits, _ and -)")
        return None


def _skills(r: _Reader, node: yaml.Node, what: str) -> Any:
    if not isinstance(node, yaml.SequenceNode):
        r.fail(line_of(node), f"{what} must be a list of skill names, e.g. [general]")
        return None
    names = [r.name(item, f"{what} entry") for item in node.value]
    return None if None in names else frozenset(n for n in names if n is not None)


def _seconds(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.number(node, what, zero_ok=False)


def _hours(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.number(node, what, zero_ok=True)


def _bonus(r: _Reader, node: yaml.Node, what: str) -> Any:
    if isinstance(node, yaml.ScalarNode) and node.tag == INT_TAG and re.fullmatch(r"\+?\d+", node.value):
        return int(node.value)
    r.fail(line_of(node), f"{what} must be a whole number of 0 or more")
    return None


def _name(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.name(node, what)


OFFER_MESSAGE = "offer-message"


def _overflow_target(r: _Reader, node: yaml.Node, what: str) -> Any:
    value = scalar_text(node)
    if value is not None and (value == OFFER_MESSAGE or re.fullmatch(r"(queue|site):[A-Za-z0-9_-]+", value)):
        return value
    r.fail(line_of(node), f"{what} must be offer-message, queue:<queue name> or site:<overflow site name>")
    return None


def _code(r: _Reader, node: yaml.Node, what: str) -> Any:
    value = scalar_text(node)
    if value is not None and re.fullmatch(r"\d{1,4}", value):
        return value
    r.fail(line_of(node), f"{what} must be 1 to 4 digits")
    return None


def _overflow(r: _Reader, node: yaml.Node, what: str) -> Any:
    return parse_ladder(r, node, what, r.tiers)


Kind = Callable[[_Reader, yaml.Node, str], Any]
FIELDS: dict[str, Kind] = {
    "skills": _skills, "service_level_s": _seconds, "announce_every_s": _seconds, "moh_class": _name,
    "ring_timeout_s": _seconds, "max_wait_s": _seconds, "on_max_wait": _overflow_target,
    "on_no_agent": _overflow_target, "max_expected_wait_s": _hours,
    "priority_bonus_repeat": _bonus, "repeat_window_h": _hours, "hold_reassure_every_s": _seconds,
    "hold_target_s": _seconds, "hold_limit_s": _seconds, "silent_wait_s": _seconds, "auto_silent_after_s": _hours,
    "transfer_code": _code, "overflow": _overflow,
}


def _fields(r: _Reader, node: yaml.Node, what: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Known fields of one mapping, read by kind; unknown and bad ones are reported and left out."""
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    for key, value, line in r.mapping(node, what):
        kind = FIELDS.get(key)
        if kind is None:
            r.fail(line, f"{what}: unknown field '{key}' (known: {', '.join(FIELDS)})")
            continue
        parsed = kind(r, value, f"{what} {key}")
        lines[key] = line
        if parsed is not None:
            values[key] = parsed
    return values, lines


def parse_queues(text: str, file: str) -> dict[QueueName, QueueConfig]:
    """Queues from YAML text; ``file`` names it in problems. Raises QueueConfigError with every problem."""
    r = _Reader(file, [])
    root = compose(text, file, QueueConfigError)
    sections = r.sections(root, "the queue file", TOP_LEVEL)
    if "tiers" in sections:
        r.tiers = parse_tiers(r, sections["tiers"][0])
    defaults: dict[str, Any] = {}
    if "defaults" in sections:
        defaults, default_lines = _fields(r, sections["defaults"][0], "defaults")
        if "skills" in default_lines:
            # Skills say what a queue is; a shared default would hide a forgotten per-queue list.
            r.fail(default_lines["skills"], "defaults: 'skills' must be set per queue")
            defaults.pop("skills", None)
    queues: dict[QueueName, QueueConfig] = {}
    if "queues" not in sections:
        r.fail(1, "the file needs 'queues'")
    else:
        for name, value, line in r.mapping(sections["queues"][0], "queues"):
            if not NAME.match(name):
                r.fail(line, f"queue name '{name}' is not a valid name (letters, digits, _ and -)")
                continue
            values, lines = _fields(r, value, f"queue '{name}'")
            if "skills" not in lines:
                r.fail(line, f"queue '{name}' needs 'skills' (the skills an agent must have; [] for anyone)")
                continue
            if set(lines) - set(values):  # a bad value was reported already
                continue
            merged = {**defaults, **values}
            if merged.get("overflow") == OFF:
                merged["overflow"] = None
            queues[QueueName(name)] = QueueConfig(name=QueueName(name), file=file, line=line, lines=lines, **merged)
        if not queues and not r.problems:
            r.fail(line_of(sections["queues"][0]), "no queue is defined")
        for queue in queues.values():
            for key in ("on_max_wait", "on_no_agent"):
                target = getattr(queue, key)
                if target.startswith("queue:") and target[6:] not in queues:
                    r.fail(queue.lines.get(key, queue.line), f"queue '{queue.name}': {key} names no queue "
                                                             f"'{target[6:]}' (queues: {', '.join(queues)})")
                elif target == f"queue:{queue.name}":
                    r.fail(queue.lines.get(key, queue.line), f"queue '{queue.name}': {key} cannot move callers "
                                                             "to the same queue")
        codes: dict[str, str] = {}
        for queue in queues.values():
            if queue.transfer_code is None:
                continue
            if queue.transfer_code in codes:
                r.fail(queue.lines["transfer_code"], f"queue '{queue.name}': transfer_code {queue.transfer_code} "
                                                     f"is already used by queue '{codes[queue.transfer_code]}'")
            codes[queue.transfer_code] = queue.name
    if r.problems:
        raise QueueConfigError(sorted(r.problems))
    return queues


def load_queues(path: Path | str = DEFAULT_FILE) -> dict[QueueName, QueueConfig]:
    """Read the queue file. Raises QueueConfigError (``file:line: message`` for each problem)."""
    path = Path(path)
    return parse_queues(read_text(path, "queue file", QueueConfigError), str(path))
