"""The overflow ladder as operators write it in the queue file → ``acd.overflow.Ladder``, problems as file:line.

``acd.queues`` reads the file and calls ``parse_tiers`` for the top-level ``tiers:`` list and
``parse_ladder`` for each ``overflow:`` field (in ``defaults`` or a queue), with its own ``Reader``, so a
bad ladder is one more ``file:line: message`` of the ``QueueConfigError`` and the file is refused as a
whole (the running controller keeps its last good queues). The format (see acd/queues.yaml)::

    tiers: [inbound, expert, outbound, qc, backoffice]   # staff groups agents can be in
    defaults:
      overflow:
        release_waiting: 5          # step down when waiting <= 5 ...
        release_dwell_s: 300        # ... has held this long
        min_stage_s: 300            # and the stage is at least this old
        service_level_window_min: 15
        night: "22:00-08:00"        # every registered reserve agent signed in (optional)
        stages:
          - {name: expert, when: {waiting_above: 5, waiting_at_most: 10}, hold_s: 300, sign_in: {tier: expert}}
          - {name: alert, when: {waiting_above: 10}, hold_s: 300, alert: {target: 0.8, answer_within_s: 20}}

A queue's ``overflow:`` replaces the defaults' one; ``overflow: off`` gives a queue no ladder.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Final

import yaml

from acd.overflow import INBOUND, NIGHT, NORMAL, Condition, Ladder, NightWindow, RaiseAlert, SignInTier, Stage
from ivr_flows.yaml_lines import INT_TAG, NAME, Reader, line_of, scalar_text

DEFAULT_TIERS: Final = (INBOUND, "expert", "outbound", "qc", "backoffice")
OFF: Final = Ladder(stages=())
"""``overflow: off``: the queue has no ladder."""

LADDER_FIELDS = ("release_waiting", "release_dwell_s", "min_stage_s", "service_level_window_min", "night", "stages")
STAGE_FIELDS = ("name", "when", "hold_s", "sign_in", "alert")
WHEN_FIELDS = ("waiting_above", "waiting_at_most", "longest_wait_s", "service_level_below", "available_at_most")
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _count(r: Reader, node: yaml.Node, what: str) -> int | None:
    """A whole number of 0 or more."""
    if isinstance(node, yaml.ScalarNode) and node.tag == INT_TAG and re.fullmatch(r"\+?\d+", node.value):
        return int(node.value)
    r.fail(line_of(node), f"{what} must be a whole number of 0 or more")
    return None


def _seconds(r: Reader, node: yaml.Node, what: str) -> float | None:
    return r.number(node, what, zero_ok=True, unit="seconds")


def parse_tiers(r: Reader, node: yaml.Node) -> tuple[str, ...]:
    """The ``tiers:`` list: names, ``inbound`` among them (the default tier of every agent)."""
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        r.fail(line_of(node), "tiers must be a list of tier names, e.g. [inbound, expert, outbound, qc, backoffice]")
        return DEFAULT_TIERS
    tiers: list[str] = []
    for item in node.value:
        value = scalar_text(item)
        if value is None or not NAME.match(value):
            r.fail(line_of(item), "a tier must be a name (letters, digits, _ and -)")
        elif value in tiers:
            r.fail(line_of(item), f"tier '{value}' is listed twice")
        else:
            tiers.append(value)
    if INBOUND not in tiers:
        r.fail(line_of(node), f"tiers must include '{INBOUND}' (the tier of ordinary inbound agents)")
    return tuple(tiers)


def _night(r: Reader, node: yaml.Node, what: str) -> NightWindow | None:
    value = scalar_text(node)
    match = _WINDOW.match(value or "")
    if match is not None:
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) != (h2, m2):
            return NightWindow(time(h1, m1), time(h2, m2))
    r.fail(line_of(node), f"{what} must be a time window 'HH:MM-HH:MM' (e.g. \"22:00-08:00\"), start and end apart")
    return None


def _condition(r: Reader, node: yaml.Node, what: str) -> Condition | None:
    values: dict[str, float | int | None] = {}
    ok = True
    for key, value, line in r.mapping(node, what):
        if key in ("waiting_above", "waiting_at_most", "available_at_most"):
            values[key] = _count(r, value, f"{what} {key}")
        elif key == "longest_wait_s":
            values[key] = r.number(value, f"{what} {key}", zero_ok=False, unit="seconds")
        elif key == "service_level_below":
            share = r.number(value, f"{what} {key}", zero_ok=False)
            if share is not None and share > 1:
                r.fail(line_of(value), f"{what} {key} is a share of calls: above 0, at most 1 (e.g. 0.8)")
                share = None
            values[key] = share
        else:
            r.fail(line, f"{what}: unknown field '{key}' (known: {', '.join(WHEN_FIELDS)})")
            ok = False
            continue
        ok = ok and values[key] is not None
    if not isinstance(node, yaml.MappingNode):
        return None
    if not values and ok:
        r.fail(line_of(node), f"{what} needs a condition ({', '.join(WHEN_FIELDS)})")
        return None
    if not ok:
        return None
    above, at_most = values.get("waiting_above"), values.get("waiting_at_most")
    if above is not None and at_most is not None and at_most <= above:
        r.fail(line_of(node), f"{what}: impossible band {above:g} < waiting <= {at_most:g} "
                              "(waiting_at_most must be above waiting_above)")
        return None
    return Condition(**values)  # type: ignore[arg-type]


def _sign_in(r: Reader, node: yaml.Node, what: str, tiers: tuple[str, ...]) -> SignInTier | None:
    tier: str | None = None
    up_to: int | None = None
    ok = True
    entries = r.mapping(node, what)
    for key, value, line in entries:
        if key == "tier":
            tier = scalar_text(value)
            if tier is None or tier not in tiers:
                r.fail(line_of(value), f"{what}: unknown tier '{tier}' (known: {', '.join(tiers)})")
                ok = False
            elif tier == INBOUND:
                r.fail(line_of(value), f"{what}: '{INBOUND}' agents are not a reserve tier")
                ok = False
        elif key == "up_to":
            if scalar_text(value) == "all":
                up_to = None
                continue
            up_to = _count(r, value, f"{what} up_to")
            if up_to == 0:
                r.fail(line_of(value), f"{what} up_to must be 1 or more, or 'all'")
                up_to = None
                ok = False
            ok = ok and up_to is not None
        else:
            r.fail(line, f"{what}: unknown field '{key}' (known: tier, up_to)")
            ok = False
    if isinstance(node, yaml.MappingNode) and tier is None and ok:
        r.fail(line_of(node), f"{what} needs 'tier'")
        return None
    return SignInTier(tier, up_to) if ok and tier is not None else None


def _alert(r: Reader, node: yaml.Node, what: str) -> RaiseAlert | None:
    alert = RaiseAlert()
    ok = True
    for key, value, line in r.mapping(node, what):
        if key == "target":
            share = r.number(value, f"{what} target", zero_ok=False)
            if share is not None and share >= 1:
                r.fail(line_of(value), f"{what} target is a share of calls between 0 and 1 (e.g. 0.8)")
                share = None
            ok = ok and share is not None
            alert = RaiseAlert(share or alert.target, alert.answer_within_s)
        elif key == "answer_within_s":
            seconds = r.number(value, f"{what} answer_within_s", zero_ok=False, unit="seconds")
            ok = ok and seconds is not None
            alert = RaiseAlert(alert.target, seconds or alert.answer_within_s)
        else:
            r.fail(line, f"{what}: unknown field '{key}' (known: target, answer_within_s)")
            ok = False
    return alert if ok and isinstance(node, yaml.MappingNode) else None


def _stage(r: Reader, node: yaml.Node, what: str, tiers: tuple[str, ...]) -> Stage | None:
    fields = {key: (value, line) for key, value, line in r.mapping(node, what)}
    if not isinstance(node, yaml.MappingNode):
        return None
    ok = True
    for key, (_, line) in fields.items():
        if key not in STAGE_FIELDS:
            r.fail(line, f"{what}: unknown field '{key}' (known: {', '.join(STAGE_FIELDS)})")
            ok = False
    name: str | None = None
    if "name" not in fields:
        r.fail(line_of(node), f"{what} needs a 'name'")
        ok = False
    else:
        name = scalar_text(fields["name"][0])
        if name is None or not NAME.match(name):
            r.fail(fields["name"][1], f"{what} name must be a name (letters, digits, _ and -)")
            ok = False
        elif name in (NORMAL, NIGHT):
            r.fail(fields["name"][1], f"{what}: '{name}' is reserved, choose another stage name")
            ok = False
        else:
            what = f"{what} '{name}'"
    hold_s: float | None = None
    if "hold_s" not in fields:
        r.fail(line_of(node), f"{what} needs 'hold_s' (how long its condition must hold before it fires)")
        ok = False
    else:
        hold_s = _seconds(r, fields["hold_s"][0], f"{what} hold_s")
        ok = ok and hold_s is not None
    condition: Condition | None = None
    if "when" not in fields:
        r.fail(line_of(node), f"{what} needs 'when' (its condition: {', '.join(WHEN_FIELDS)})")
        ok = False
    else:
        condition = _condition(r, fields["when"][0], f"{what} when")
        ok = ok and condition is not None
    action: SignInTier | RaiseAlert | None = None
    if ("sign_in" in fields) == ("alert" in fields):
        r.fail(line_of(node), f"{what} needs exactly one action: 'sign_in' (a tier) or 'alert'")
        ok = False
    elif "sign_in" in fields:
        action = _sign_in(r, fields["sign_in"][0], f"{what} sign_in", tiers)
    else:
        action = _alert(r, fields["alert"][0], f"{what} alert")
    if not ok or action is None or name is None or hold_s is None or condition is None:
        return None
    return Stage(name, condition, hold_s, action, line=line_of(node))


def parse_ladder(r: Reader, node: yaml.Node, what: str, tiers: tuple[str, ...]) -> Ladder | None:
    """One ``overflow:`` value; None after reporting its problems. ``off`` is ``OFF`` (no ladder)."""
    if scalar_text(node) in ("off", "none"):
        return OFF
    values: dict[str, object] = {}
    fields = {key: (value, line) for key, value, line in r.mapping(node, what)}
    if not isinstance(node, yaml.MappingNode):
        return None
    ok = True
    for key, (value, line) in fields.items():
        item = f"{what} {key}"
        parsed: object
        if key == "release_waiting":
            parsed = _count(r, value, item)
        elif key in ("release_dwell_s", "min_stage_s"):
            parsed = _seconds(r, value, item)
        elif key == "service_level_window_min":
            parsed = r.number(value, item, zero_ok=False, unit="minutes")
        elif key == "night":
            parsed = _night(r, value, item)
        elif key == "stages":
            parsed = _stages(r, value, item, tiers)
        else:
            r.fail(line, f"{what}: unknown field '{key}' (known: {', '.join(LADDER_FIELDS)})")
            ok = False
            continue
        if parsed is None:
            ok = False
        else:
            values[key] = parsed
    if "stages" not in fields and "night" not in fields:
        r.fail(line_of(node), f"{what} needs 'stages' (or 'night', or write 'overflow: off')")
        return None
    if not ok:
        return None
    ladder = Ladder(**values)  # type: ignore[arg-type]
    for stage in ladder.stages:
        above = stage.condition.waiting_above
        if above is not None and ladder.release_waiting > above:
            line = fields["release_waiting"][1] if "release_waiting" in fields else line_of(node)
            r.fail(line, f"{what}: release_waiting {ladder.release_waiting} is above stage '{stage.name}''s "
                         f"waiting_above {above}: the ladder would climb and step down at the same time")
            return None
    return ladder


def _stages(r: Reader, node: yaml.Node, what: str, tiers: tuple[str, ...]) -> tuple[Stage, ...] | None:
    if not isinstance(node, yaml.SequenceNode) or not node.value:
        r.fail(line_of(node), f"{what} must be a list of stages (name, when, hold_s, sign_in or alert)")
        return None
    stages: list[Stage] = []
    ok = True
    for number, item in enumerate(node.value, start=1):
        stage = _stage(r, item, f"{what}[{number}]", tiers)
        if stage is None:
            ok = False
        elif any(s.name == stage.name for s in stages):
            r.fail(line_of(item), f"{what}: stage name '{stage.name}' is used twice")
            ok = False
        else:
            stages.append(stage)
    return tuple(stages) if ok else None
