"""A YAML reader that keeps line numbers, shared by the files operators edit (flows, queues).

The text is composed into PyYAML's node tree (``yaml.compose``), never constructed, so every value keeps
its line and its text as written: ``011`` stays ``"011"``, no YAML 1.1 octal/date guesses. ``Reader`` reads
typed values out of those nodes and records a ``Problem(file, line, message)`` for each bad one instead of
stopping at the first; the caller raises its own error (``FlowError``, ``QueueConfigError``) with all of them.
Used by ``ivr_flows.loader`` and ``acd.queues``, which subclass ``Reader`` with their own field kinds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from ivr_flows.errors import Problem

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

INT_TAG = "tag:yaml.org,2002:int"
FLOAT_TAG = "tag:yaml.org,2002:float"
BOOL_TAG = "tag:yaml.org,2002:bool"
NULL_TAG = "tag:yaml.org,2002:null"

# The loader's own error class, built from the problems (``FlowError``, ``QueueConfigError``).
MakeError = Callable[[list[Problem]], Exception]


def line_of(node: yaml.Node) -> int:
    """The 1-based line a node starts on."""
    return int(node.start_mark.line) + 1


def scalar_text(node: yaml.Node) -> str | None:
    """The text of a scalar as written, or None for a null, a list or a mapping (nothing is reported)."""
    if isinstance(node, yaml.ScalarNode) and node.tag != NULL_TAG:
        return str(node.value)
    return None


def read_text(path: Path, what: str, error: MakeError) -> str:
    """The text of ``path``; a file that cannot be read raises ``error`` with one problem at line 1."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise error([Problem(str(path), 1, f"cannot read the {what}: {err}")]) from None


def compose(text: str, file: str, error: MakeError) -> yaml.Node:
    """The root node of ``text``; invalid YAML or an empty file raises ``error`` with that one problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = int(mark.line) + 1 if mark is not None else 1
        raise error([Problem(file, line, f"not valid YAML: {err.problem or err.context}")]) from None
    if root is None:
        raise error([Problem(file, 1, "the file is empty")])
    return root


@dataclass
class Reader:
    """Reads typed values out of composed YAML nodes, recording problems instead of stopping at the first."""

    file: str
    problems: list[Problem]

    def fail(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def mapping(self, node: yaml.Node, what: str, duplicates_ok: bool = False) -> list[tuple[str, yaml.Node, int]]:
        """``(key, value, key line)`` in file order; a duplicate key is a problem (unless the caller checks)."""
        if not isinstance(node, yaml.MappingNode):
            self.fail(line_of(node), f"{what} must be a mapping")
            return []
        items: list[tuple[str, yaml.Node, int]] = []
        seen: set[str] = set()
        for key_node, value in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(line_of(key_node), f"{what}: keys must be plain text")
                continue
            key = str(key_node.value)
            if key in seen and not duplicates_ok:
                self.fail(line_of(key_node), f"{what}: duplicate key '{key}'")
                continue
            seen.add(key)
            items.append((key, value, line_of(key_node)))
        return items

    def sections(self, root: yaml.Node, what: str, known: Sequence[str]) -> dict[str, tuple[yaml.Node, int]]:
        """The top level of a file, ``{key: (value, key line)}``; a section not in ``known`` is a problem."""
        sections = {key: (value, line) for key, value, line in self.mapping(root, what)}
        for key, (_, line) in sections.items():
            if key not in known:
                self.fail(line, f"unknown section '{key}' (known: {', '.join(known)})")
        return sections

    def text(self, node: yaml.Node, what: str) -> str | None:
        value = scalar_text(node)
        if value is None:
            self.fail(line_of(node), f"{what} must be text")
        return value

    def number(self, node: yaml.Node, what: str, zero_ok: bool = False, unit: str = "") -> float | None:
        """A number above 0 (or 0 and more); ``unit`` names it in the problem: "a number of seconds above 0"."""
        if isinstance(node, yaml.ScalarNode) and node.tag in (INT_TAG, FLOAT_TAG):
            try:
                value = float(node.value)
            except ValueError:
                value = -1.0
            if value > 0 or (zero_ok and value == 0):
                return value
        of_unit = f" of {unit}" if unit else ""
        self.fail(line_of(node), f"{what} must be a number{of_unit} {'of 0 or more' if zero_ok else 'above 0'}")
        return None
