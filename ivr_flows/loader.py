"""YAML flow files → ``ivr_flows.model``, keeping the line of every node and field.

The file is composed into PyYAML's node tree by ``ivr_flows.yaml_lines``, never constructed, so every value
keeps its line and its text as written: ``011`` stays ``"011"`` and ``2026-10-01`` a string we parse ourselves
instead of YAML 1.1's octal/date guesses. Times, dates, caller patterns and templates are parsed here, once.
Every problem of a file is collected and raised together as one ``FlowError``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import MISSING
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from ivr_flows.errors import FlowError, Problem
from ivr_flows.model import (
    DTMF_KEYS,
    OFFER_CASES,
    PRIORITIES,
    WEEKDAYS,
    BranchCaller,
    BranchTime,
    CalendarSpec,
    CallerRoute,
    Collect,
    Flow,
    FlowPrompt,
    Goto,
    Hangup,
    Lookup,
    Menu,
    MenuKey,
    Node,
    NumberPattern,
    Offer,
    OfferPrompt,
    OpeningHours,
    Password,
    Play,
    Queue,
    SpeedLine,
    Template,
    TemplatePart,
)
from ivr_flows.yaml_lines import BOOL_TAG, INT_TAG, NAME, NULL_TAG, Reader, compose, line_of, read_text

PROMPT_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
DAY_KEYS = (*WEEKDAYS, "weekdays", "weekend", "daily", "holiday")
TOP_LEVEL = ("flow", "description", "start", "speed_lines", "caller_lists", "calendar", "prompts", "nodes")


class _Reader(Reader):
    """The shared reader plus the value kinds of flow files."""

    def name(self, node: yaml.Node, what: str) -> str | None:
        value = self.text(node, what)
        if value is not None and not NAME.match(value):
            self.fail(line_of(node), f"{what} '{value}' is not a valid name (letters, digits, _ and -)")
            return None
        return value

    def texts(self, node: yaml.Node, what: str) -> tuple[str, ...] | None:
        """One text or a list of texts."""
        if isinstance(node, yaml.SequenceNode):
            values = [self.text(item, what) for item in node.value]
            return None if any(v is None for v in values) else tuple(v for v in values if v is not None)
        value = self.text(node, what)
        return None if value is None else (value,)

    def integer(self, node: yaml.Node, what: str) -> int | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == INT_TAG and re.fullmatch(r"[-+]?\d+", node.value):
            return int(node.value)
        self.fail(line_of(node), f"{what} must be a whole number")
        return None

    def boolean(self, node: yaml.Node, what: str) -> bool | None:
        if isinstance(node, yaml.ScalarNode) and node.tag == BOOL_TAG:
            return str(node.value).lower() in ("true", "yes", "on")
        self.fail(line_of(node), f"{what} must be true or false")
        return None


# -- field kinds of nodes: each reads one YAML value into the dataclass value ----------------------------------

Kind = Callable[[_Reader, yaml.Node, str], Any]
_BAD = object()  # a bad value where None is a legitimate one


def _target(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.name(node, what)


def _prompts(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.texts(node, what)


def _prompt(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.text(node, what)


def _count(r: _Reader, node: yaml.Node, what: str) -> Any:
    value = r.integer(node, what)
    if value is not None and value < 1:
        r.fail(line_of(node), f"{what} must be at least 1")
        return None
    return value


def _times(r: _Reader, node: yaml.Node, what: str) -> Any:
    value = r.integer(node, what)
    if value is not None and value < 0:
        r.fail(line_of(node), f"{what} must be 0 or more")
        return None
    return value


def _offer_prompts(r: _Reader, node: yaml.Node, what: str) -> Any:
    prompts = []
    ok = True
    for case, value, line in r.mapping(node, what):
        if case not in OFFER_CASES:
            r.fail(line, f"{what}: unknown case '{case}' (one of {', '.join(OFFER_CASES)})")
            ok = False
            continue
        prompt = r.text(value, f"{what} {case}")
        if prompt is None:
            ok = False
            continue
        prompts.append(OfferPrompt(case, prompt, line))
    return tuple(prompts) if ok else None


def _terminator(r: _Reader, node: yaml.Node, what: str) -> Any:
    if isinstance(node, yaml.ScalarNode) and node.tag == NULL_TAG:
        return None  # explicitly no terminator: entry ends at max length or by timeout
    value = r.text(node, what)
    if value is None or value not in DTMF_KEYS:
        if value is not None:
            r.fail(line_of(node), f"{what} must be one key of 0-9 * #, not '{value}'")
        return _BAD
    return value


def _priority(r: _Reader, node: yaml.Node, what: str) -> Any:
    if isinstance(node, yaml.ScalarNode) and node.tag == INT_TAG:
        return r.integer(node, what)
    value = r.text(node, what)
    if value is not None and value not in PRIORITIES:
        r.fail(line_of(node), f"{what} must be a number or one of {', '.join(PRIORITIES)}")
        return None
    return None if value is None else PRIORITIES[value]


def _template(r: _Reader, node: yaml.Node, what: str) -> Any:
    source = r.text(node, what)
    if source is None:
        return None
    try:
        parts = tuple(
            TemplatePart(literal, field or None, spec or "")
            for literal, field, spec, conversion in string.Formatter().parse(source)
            if _no_conversion(conversion)
        )
    except ValueError as err:
        r.fail(line_of(node), f"{what}: bad template {source!r}: {err}")
        return None
    if any(p.field is not None and not NAME.match(p.field) for p in parts):
        r.fail(line_of(node), f"{what}: placeholders must be names like {{amount:amount}}")
        return None
    return Template(source, parts)


def _no_conversion(conversion: str | None) -> bool:
    if conversion:
        raise ValueError("conversions like !r are not allowed")
    return True


def _menu_keys(r: _Reader, node: yaml.Node, what: str) -> Any:
    keys = []
    for key, value, line in r.mapping(node, what, duplicates_ok=True):  # check_flow reports duplicates
        if key not in DTMF_KEYS:
            r.fail(line, f"{what}: '{key}' is not a phone key (0-9 * #)")
            continue
        target = r.name(value, f"{what} {key}")
        if target is not None:
            keys.append(MenuKey(key, target, line))
    return tuple(keys)


def _routes(r: _Reader, node: yaml.Node, what: str) -> Any:
    routes = []
    for key, value, line in r.mapping(node, what):
        target = r.name(value, f"{what} {key}")
        if target is not None:
            routes.append(CallerRoute(key, target, line))
    return tuple(routes)


def _str(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.text(node, what)


def _seconds(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.number(node, what, unit="seconds")


def _bool(r: _Reader, node: yaml.Node, what: str) -> Any:
    return r.boolean(node, what)


ENTRY_FIELDS: dict[str, tuple[str, Kind]] = {
    "prompt": ("prompts", _prompts), "first_digit_timeout": ("first_digit_timeout", _seconds),
    "inter_digit_timeout": ("inter_digit_timeout", _seconds), "terminator": ("terminator", _terminator),
}

# YAML field → (dataclass attribute, kind); required fields are those the dataclass has no default for.
NODE_FIELDS: dict[type[Node], dict[str, tuple[str, Kind]]] = {
    Play: {"prompt": ("prompts", _prompts), "next": ("next", _target), "barge_in": ("barge_in", _bool)},
    Menu: {"prompt": ("prompts", _prompts), "keys": ("keys", _menu_keys), "timeout": ("timeout", _seconds),
           "tries": ("tries", _count), "invalid_prompt": ("invalid_prompt", _prompt),
           "timeout_prompt": ("timeout_prompt", _prompt), "fallback": ("fallback", _target)},
    Collect: {**ENTRY_FIELDS, "var": ("var", _target), "min_length": ("min_length", _count),
              "max_length": ("max_length", _count), "tries": ("tries", _count),
              "invalid_prompt": ("invalid_prompt", _prompt), "timeout_prompt": ("timeout_prompt", _prompt),
              "secret": ("secret", _bool), "next": ("next", _target), "fallback": ("fallback", _target)},
    Password: {**ENTRY_FIELDS, "account": ("account", _target), "length": ("length", _count),
               "tries": ("tries", _count), "retry_prompt": ("retry_prompt", _prompt),
               "timeout_prompt": ("timeout_prompt", _prompt),
               "failure_prompt": ("failure_prompt", _prompt), "unavailable_prompt": ("unavailable_prompt", _prompt),
               "success": ("success", _target), "failure": ("failure", _target),
               "unavailable": ("unavailable", _target)},
    Lookup: {"kind": ("kind", _str), "key": ("key", _target), "say": ("say", _template),
             "not_found_prompt": ("not_found_prompt", _prompt), "unavailable_prompt": ("unavailable_prompt", _prompt),
             "timeout": ("timeout", _seconds), "next": ("next", _target), "not_found": ("not_found", _target),
             "fallback": ("fallback", _target)},
    BranchCaller: {"routes": ("routes", _routes), "default": ("default", _target)},
    BranchTime: {"open": ("open", _target), "closed": ("closed", _target), "holiday": ("holiday", _target),
                 "morning": ("morning", _target)},
    Goto: {"next": ("next", _target)},
    Queue: {"queue": ("queue", _target), "priority": ("priority", _priority), "prompt": ("prompts", _prompts),
            "unserved": ("unserved", _target)},
    Offer: {"queue": ("queue", _target), "prompt": ("prompts", _offer_prompts), "timeout": ("timeout", _seconds),
            "keep_waiting": ("keep_waiting", _times), "message_prompt": ("message_prompt", _prompt),
            "message": ("message", _target), "callback": ("callback", _target), "fallback": ("fallback", _target)},
    Hangup: {"prompt": ("prompts", _prompts)},
}
BY_TYPE = {cls.type_name: cls for cls in NODE_FIELDS}


def _required(cls: type[Node]) -> set[str]:
    fields = cls.__dataclass_fields__
    return {name for name, f in fields.items()
            if f.default is MISSING and f.default_factory is MISSING and name not in ("name", "file", "line")}


def _read_node(r: _Reader, name: str, node: yaml.Node, line: int) -> Node | None:
    items = r.mapping(node, f"node '{name}'")
    if not items:
        return None
    fields = dict((k, (v, ln)) for k, v, ln in items)
    type_node = fields.pop("type", None)
    if type_node is None:
        r.fail(line, f"node '{name}' has no type (one of {', '.join(BY_TYPE)})")
        return None
    type_name = r.text(type_node[0], f"node '{name}' type")
    cls = BY_TYPE.get(type_name or "")
    if cls is None:
        if type_name is not None:
            r.fail(type_node[1], f"node '{name}': unknown type '{type_name}' (one of {', '.join(BY_TYPE)})")
        return None
    spec = NODE_FIELDS[cls]
    values: dict[str, Any] = {}
    lines: dict[str, int] = {}
    ok = True
    for key, (value, key_line) in fields.items():
        if key not in spec:
            r.fail(key_line, f"{type_name} node '{name}': unknown field '{key}' (known: {', '.join(spec)})")
            ok = False
            continue
        attr, kind = spec[key]
        parsed = kind(r, value, f"{type_name} node '{name}' {key}")
        # Kinds return None for a bad value (already reported); only a terminator may be None on purpose.
        if parsed is _BAD or (parsed is None and kind is not _terminator):
            ok = False
            continue
        values[attr] = parsed
        lines[key] = key_line
    yaml_name = {attr: key for key, (attr, _) in spec.items()}
    given = {spec[key][0] for key in fields if key in spec}  # a bad value was reported already
    for attr in sorted(_required(cls) - given - {"lines"}):
        r.fail(line, f"{type_name} node '{name}' needs '{yaml_name.get(attr, attr)}'")
        ok = False
    if not ok:
        return None
    return cls(name=name, file=r.file, line=line, lines=lines, **values)


# -- top-level sections --------------------------------------------------------------------------------------


def parse_hours(text: str) -> OpeningHours:
    """``"08:00-22:00"``, ``"08:00-12:00,13:30-18:00"`` or ``"closed"``; raises ValueError with the reason."""
    if text.strip().lower() == "closed":
        return OpeningHours(())
    periods = []
    for part in text.split(","):
        m = HOURS.match(part.strip())
        if not m:
            raise ValueError(f"'{part.strip()}' is not HH:MM-HH:MM")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
            raise ValueError(f"'{part.strip()}' is not a valid time of day")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if start >= end:
            raise ValueError(f"'{part.strip()}' ends before it starts (split a night into two periods)")
        periods.append((start, end))
    return OpeningHours(tuple(periods))


def parse_dates(text: str) -> list[date]:
    """``2026-10-01`` or the range ``2026-10-01..2026-10-07``; raises ValueError with the reason."""
    first, _, last = text.partition("..")
    try:
        start = date.fromisoformat(first.strip())
        end = date.fromisoformat(last.strip()) if last else start
    except ValueError:
        raise ValueError(f"'{text}' is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD") from None
    if end < start:
        raise ValueError(f"'{text}' ends before it starts")
    if (end - start).days > 366:
        raise ValueError(f"'{text}' is longer than a year")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def parse_pattern(text: str) -> NumberPattern:
    """``13800138000``, ``13900000000-13900000009`` or ``1391234*``; raises ValueError with the reason."""
    if text.endswith("*") and text[:-1].isdigit():
        return NumberPattern("prefix", text[:-1])
    if text.isdigit():
        return NumberPattern("exact", text)
    low, _, high = text.partition("-")
    if low.isdigit() and high.isdigit() and len(low) == len(high) and low <= high:
        return NumberPattern("range", low, high)
    raise ValueError(f"'{text}' is not a number, a range 13900000000-13900000009 of equal length, or a prefix 139*")


def _calendar(r: _Reader, node: yaml.Node) -> CalendarSpec:
    hours: dict[str, OpeningHours] = {}
    holidays: set[date] = set()
    for key, value, line in r.mapping(node, "calendar"):
        if key == "hours":
            for day, spec, day_line in r.mapping(value, "calendar hours"):
                if day not in DAY_KEYS:
                    r.fail(day_line, f"calendar hours: unknown day '{day}' (one of {', '.join(DAY_KEYS)})")
                    continue
                text = r.text(spec, f"calendar hours {day}")
                if text is None:
                    continue
                try:
                    hours[day] = parse_hours(text)
                except ValueError as err:
                    r.fail(line_of(spec), f"calendar hours {day}: {err}")
        elif key == "holidays":
            if not isinstance(value, yaml.SequenceNode):
                r.fail(line, "calendar holidays must be a list of dates")
                continue
            for item in value.value:
                text = r.text(item, "holiday")
                if text is None:
                    continue
                try:
                    holidays.update(parse_dates(text))
                except ValueError as err:
                    r.fail(line_of(item), f"holiday {err}")
        else:
            r.fail(line, f"calendar: unknown field '{key}' (known: hours, holidays)")
    return CalendarSpec(hours=hours, holidays=frozenset(holidays), line=line_of(node))


def _prompt_texts(r: _Reader, node: yaml.Node) -> dict[str, FlowPrompt]:
    prompts: dict[str, FlowPrompt] = {}
    for name, value, line in r.mapping(node, "prompts"):
        if not PROMPT_NAME.match(name):
            r.fail(line, f"prompt name '{name}' must be lower-case letters, digits and '-' (it names a sound file)")
            continue
        if isinstance(value, yaml.MappingNode):
            texts = {k: r.text(v, f"prompt '{name}' {k}") for k, v, _ in r.mapping(value, f"prompt '{name}'")}
            for unknown in texts.keys() - {"zh", "en"}:
                r.fail(line, f"prompt '{name}': unknown language '{unknown}' (zh, en)")
            zh, en = texts.get("zh"), texts.get("en")
            if zh is None:
                r.fail(line, f"prompt '{name}' needs a Mandarin text 'zh'")
                continue
        else:
            zh, en = r.text(value, f"prompt '{name}'"), None
            if zh is None:
                continue
        prompts[name] = FlowPrompt(name, zh, en, r.file, line)
    return prompts


def _speed_lines(r: _Reader, node: yaml.Node) -> tuple[SpeedLine, ...]:
    lines = []
    for suffix, value, line in r.mapping(node, "speed_lines"):
        if not suffix.isdigit():
            r.fail(line, f"speed line '{suffix}' must be digits dialed after the hotline number")
            continue
        target = r.name(value, f"speed line {suffix}")
        if target is not None:
            lines.append(SpeedLine(suffix, target, line))
    return tuple(lines)


def _caller_lists(r: _Reader, node: yaml.Node) -> dict[str, tuple[NumberPattern, ...]]:
    lists: dict[str, tuple[NumberPattern, ...]] = {}
    for name, value, line in r.mapping(node, "caller_lists"):
        if not isinstance(value, yaml.SequenceNode):
            r.fail(line, f"caller list '{name}' must be a list of numbers")
            continue
        patterns = []
        for item in value.value:
            text = r.text(item, f"caller list '{name}' entry")
            if text is None:
                continue
            try:
                patterns.append(parse_pattern(text))
            except ValueError as err:
                r.fail(line_of(item), f"caller list '{name}': {err}")
        lists[name] = tuple(patterns)
    return lists


def parse_flow(text: str, file: str) -> Flow:
    """A flow from YAML text; ``file`` names it in problems. Raises FlowError with every problem found."""
    r = _Reader(file, [])
    root = compose(text, file, FlowError)
    sections = r.sections(root, "a flow file", TOP_LEVEL)
    name = Path(file).stem
    if "flow" in sections:
        name = r.name(sections["flow"][0], "flow") or name
    if "description" in sections:
        r.text(sections["description"][0], "description")
    start = r.name(sections["start"][0], "start") if "start" in sections else None
    if "start" not in sections:
        r.fail(1, "the flow needs 'start': the node a call begins at")
    nodes: dict[str, Node] = {}
    if "nodes" not in sections:
        r.fail(1, "the flow needs 'nodes'")
    else:
        for node_name, value, line in r.mapping(sections["nodes"][0], "nodes"):
            if not NAME.match(node_name):
                r.fail(line, f"node name '{node_name}' is not a valid name (letters, digits, _ and -)")
                continue
            node = _read_node(r, node_name, value, line)
            if node is not None:
                nodes[node_name] = node
    prompts = _prompt_texts(r, sections["prompts"][0]) if "prompts" in sections else {}
    speed = _speed_lines(r, sections["speed_lines"][0]) if "speed_lines" in sections else ()
    lists = _caller_lists(r, sections["caller_lists"][0]) if "caller_lists" in sections else {}
    calendar = _calendar(r, sections["calendar"][0]) if "calendar" in sections else CalendarSpec()
    if r.problems or start is None:
        raise FlowError(sorted(r.problems))
    return Flow(name=name, file=file, line=line_of(root), start=start, nodes=nodes, prompts=prompts,
                speed_lines=speed, caller_lists=lists, calendar=calendar,
                lines={key: line for key, (_, line) in sections.items()})


def load_flow(path: Path | str) -> Flow:
    """Read one flow file. Raises FlowError (``file:line: message`` for each problem)."""
    path = Path(path)
    return parse_flow(read_text(path, "flow file", FlowError), str(path))


def load_flows(folder: Path | str) -> dict[str, Flow]:
    """Every ``*.yaml`` flow of ``folder`` by flow name; the problems of all files are raised together."""
    flows: dict[str, Flow] = {}
    problems: list[Problem] = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            flow = load_flow(path)
        except FlowError as err:
            problems.extend(err.problems)
            continue
        if flow.name in flows:
            problems.append(Problem(str(path), flow.line, f"flow '{flow.name}' is also defined in "
                                                          f"{flows[flow.name].file}"))
            continue
        flows[flow.name] = flow
    if problems:
        raise FlowError(problems)
    return flows
