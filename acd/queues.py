"""Queue settings operators edit (``acd/queues.yaml``) → ``QueueConfig`` values, with file:line problems.

Read the way ``ivr_flows.loader`` reads flows: the YAML is composed into PyYAML's node tree, never
constructed, so every value keeps its line and its text as written (no YAML 1.1 guesses), and every problem
of the file is collected and raised together as one ``QueueConfigError``. ``acd.routing`` and the
controller's queue service use the result; nothing here knows about Asterisk.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from acd.model import QueueName
from engine.errors import SettingsError
from ivr_flows.errors import Problem

DEFAULT_FILE = Path(__file__).with_name("queues.yaml")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
TOP_LEVEL = ("defaults", "queues")

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"


class QueueConfigError(SettingsError):
    """The queue file cannot be used; ``problems`` lists everything wrong with it (``file:line: message``)."""

    code = "bad-queue-config"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "bad queue config")


@dataclass(frozen=True)
class QueueConfig:
    """One queue. ``skills``: an agent needs all of them. Times in seconds except ``repeat_window_h``.
    ``on_max_wait`` names what happens to a caller waiting ``max_wait_s`` (the overflow issue acts on it).
    ``hold_*`` time the hold script, ``silent_wait_s`` the silent-call script's pauses; ``auto_silent_after_s``
    (0 = off) starts that script when the caller has not spoken that long after the agent answered.
    ``transfer_code`` is what agents key (``*9<code>#``) to send a caller to this queue."""

    name: QueueName
    skills: frozenset[str]
    service_level_s: float = 20
    announce_every_s: float = 30
    moh_class: str = "default"
    ring_timeout_s: float = 15
    max_wait_s: float = 300
    on_max_wait: str = "offer-message"
    priority_bonus_repeat: int = 5
    repeat_window_h: float = 24
    hold_reassure_every_s: float = 30
    hold_target_s: float = 60
    hold_limit_s: float = 180
    silent_wait_s: float = 5
    auto_silent_after_s: float = 0
    transfer_code: str | None = None
    file: str = ""
    line: int = 0
    lines: dict[str, int] = field(default_factory=dict, compare=False, hash=False)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


@dataclass
class _Reader:
    file: str
    problems: list[Problem]

    def fail(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, int]]:
        """``(key, value, key line)`` in file order; a duplicate key is a problem."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(_line(node), f"{what} must be a mapping")
            return []
        items: list[tuple[str, yaml.Node, int]] = []
        for key_node, value in node.value:
            key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                self.fail(_line(key_node), f"{what}: keys must be plain text")
            elif any(key == seen for seen, _, _ in items):
                self.fail(_line(key_node), f"{what}: duplicate key '{key}'")
            else:
                items.append((key, value, _line(key_node)))
        return items

    def name(self, node: yaml.Node, what: str) -> str | None:
        if isinstance(node, yaml.ScalarNode) and node.tag != _NULL and NAME.match(str(node.value)):
            return str(node.value)
        self.fail(_line(node), f"{what} must be a name (letters, digits, _ and -)")
        return None

    def number(self, node: yaml.Node, what: str, zero_ok: bool) -> float | None:
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT, _FLOAT):
            try:
                value = float(node.value)
            except ValueError:
                value = -1.0
            if value > 0 or (zero_ok and value == 0):
                return value
        self.fail(_line(node), f"{what} must be a number {'of 0 or more' if zero_ok else 'above 0'}")
        return None


def _skills(r: _Reader, node: yaml.Node, what: str) -> Any:
    if not isinstance(node, yaml.SequenceNode):
        r.fail(_line(node), f"{what} must be a list of skill names, e.g. [general]")
        return None
    names = [r.name(item, f"{what} entry") for item in node.value]
    return None if None in names else frozenset(n for n in names if n is not None)


def _seconds(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.number(node, what, zero_ok=False)


def _hours(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.number(node, what, zero_ok=True)


def _bonus(r: _Reader, node: yaml.Node, what: str) -> Any:
    if isinstance(node, yaml.ScalarNode) and node.tag == _INT and re.fullmatch(r"\+?\d+", node.value):
        return int(node.value)
    r.fail(_line(node), f"{what} must be a whole number of 0 or more")
    return None


def _name(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.name(node, what)


def _code(r: _Reader, node: yaml.Node, what: str) -> Any:
    if isinstance(node, yaml.ScalarNode) and node.tag != _NULL and re.fullmatch(r"\d{1,4}", str(node.value)):
        return str(node.value)
    r.fail(_line(node), f"{what} must be 1 to 4 digits")
    return None


Kind = Callable[[_Reader, yaml.Node, str], Any]
FIELDS: dict[str, Kind] = {
    "skills": _skills, "service_level_s": _seconds, "announce_every_s": _seconds, "moh_class": _name,
    "ring_timeout_s": _seconds, "max_wait_s": _seconds, "on_max_wait": _name,
    "priority_bonus_repeat": _bonus, "repeat_window_h": _hours, "hold_reassure_every_s": _seconds,
    "hold_target_s": _seconds, "hold_limit_s": _seconds, "silent_wait_s": _seconds, "auto_silent_after_s": _hours,
    "transfer_code": _code,
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
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        raise QueueConfigError([Problem(file, line, f"not valid YAML: {err.problem or err.context}")]) from None
    if root is None:
        raise QueueConfigError([Problem(file, 1, "the file is empty")])
    sections = {key: (value, line) for key, value, line in r.mapping(root, "the queue file")}
    for key, (_, line) in sections.items():
        if key not in TOP_LEVEL:
            r.fail(line, f"unknown section '{key}' (known: {', '.join(TOP_LEVEL)})")
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
            queues[QueueName(name)] = QueueConfig(name=QueueName(name), file=file, line=line, lines=lines,
                                                  **{**defaults, **values})
        if not queues and not r.problems:
            r.fail(_line(sections["queues"][0]), "no queue is defined")
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
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise QueueConfigError([Problem(str(path), 1, f"cannot read the queue file: {err}")]) from None
    return parse_queues(text, str(path))
