"""The flow checker: what a loaded flow may not do, each problem with ``file:line``.

The loader already refused what is malformed (types, unknown fields, times, dates, caller patterns);
``check_flow`` looks at meaning: names that point nowhere, nodes no call can reach, prompts without a
text, duplicate menu keys, loops that never wait for the caller, passwords without both outcomes,
variables never collected, offers that go back to something other than a queue node or offer nothing.
``FlowRunner`` refuses a flow with problems; `hotline flows check` prints them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from engine.prompts.catalog import BY_NAME
from ivr_flows.errors import FlowError, Problem
from ivr_flows.loader import load_flow
from ivr_flows.model import (
    LOOKUP_KINDS,
    TEMPLATE_FORMATS,
    BranchCaller,
    Collect,
    Flow,
    Lookup,
    Menu,
    Node,
    Offer,
    Password,
    Queue,
)

_Fail = Callable[[int, str], None]


def check_flow(flow: Flow) -> list[Problem]:
    """Every problem of ``flow``, sorted by line."""
    problems: list[Problem] = []

    def fail(line: int, message: str) -> None:
        problems.append(Problem(flow.file, line, message))

    _check_names(flow, fail)
    _check_reachable(flow, fail)
    _check_prompts(flow, fail)
    _check_loops(flow, fail)
    _check_nodes(flow, fail)
    return sorted(problems)


def check_file(path: Path | str) -> list[Problem]:
    """Load and check one file: the loader's problems, or the checker's."""
    try:
        flow = load_flow(path)
    except FlowError as err:
        return err.problems
    return check_flow(flow)


def _check_names(flow: Flow, fail: _Fail) -> None:
    if flow.start not in flow.nodes:
        fail(flow.line_of("start"), f"start: unknown node '{flow.start}'")
    for speed in flow.speed_lines:
        if speed.target not in flow.nodes:
            fail(speed.line, f"speed line {speed.suffix}: unknown node '{speed.target}'")
    for node in flow.nodes.values():
        for ref in node.targets():
            if ref.name not in flow.nodes:
                fail(ref.line, f"{_what(node)} {ref.role}: unknown node '{ref.name}'")


def _check_reachable(flow: Flow, fail: _Fail) -> None:
    seen: set[str] = set()
    todo = [flow.start, *(s.target for s in flow.speed_lines)]
    while todo:
        name = todo.pop()
        if name in seen or name not in flow.nodes:
            continue
        seen.add(name)
        todo.extend(ref.name for ref in flow.nodes[name].targets())
    for name, node in flow.nodes.items():
        if name not in seen:
            fail(node.line, f"{_what(node)} is unreachable (not reached from start or a speed line)")


def _check_prompts(flow: Flow, fail: _Fail) -> None:
    for node in flow.nodes.values():
        for ref in node.prompt_refs():
            if ref.name not in flow.prompts and ref.name not in BY_NAME:
                fail(ref.line, f"{_what(node)} {ref.role}: prompt '{ref.name}' has no text "
                               f"(add it under prompts: with zh and en)")
    for prompt in flow.prompts.values():
        known = BY_NAME.get(prompt.name)
        if known is not None and (known.zh != prompt.zh or (prompt.en is not None and known.en != prompt.en)):
            fail(prompt.line, f"prompt '{prompt.name}' is already in the engine's catalog with another text; "
                              f"use another name")


def _check_loops(flow: Flow, fail: _Fail) -> None:
    """A cycle of nodes none of which waits for a key (or ends the call) would spin without the caller."""
    passing = {name for name, node in flow.nodes.items() if not node.waits}
    order = list(flow.nodes)
    reported: set[frozenset[str]] = set()
    for name in order:
        if name not in passing:
            continue
        cycle = _cycle_from(flow, name, passing)
        if cycle is None or frozenset(cycle) in reported:
            continue
        reported.add(frozenset(cycle))
        first = min(cycle, key=order.index)
        fail(flow.nodes[first].line, f"nodes {' → '.join([*cycle, cycle[0]])} form a loop that never waits for the "
                                     f"caller (add a menu, collect or an exit)")


def _cycle_from(flow: Flow, start: str, passing: set[str]) -> list[str] | None:
    """A path start → ... → start through passing nodes only, or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for ref in flow.nodes[name].targets():
            if ref.name == start:
                return path
            if ref.name in passing and ref.name not in seen:
                seen.add(ref.name)
                stack.append((ref.name, [*path, ref.name]))
    return None


def _check_nodes(flow: Flow, fail: _Fail) -> None:
    collected = {node.var for node in flow.nodes.values() if isinstance(node, Collect)}
    for node in flow.nodes.values():
        match node:
            case Menu():
                _check_menu(node, fail)
            case Collect():
                if node.min_length > node.max_length:
                    fail(node.line_of("min_length"), f"{_what(node)}: min_length {node.min_length} is above "
                                                     f"max_length {node.max_length}")
            case Password():
                if node.success is None:
                    fail(node.line, f"{_what(node)} needs a 'success' target (where a right password leads)")
                if node.failure is None:
                    fail(node.line, f"{_what(node)} needs a 'failure' target (where to go after the last wrong try)")
                _check_var(node, "account", node.account, collected, fail)
            case Lookup():
                if node.kind not in LOOKUP_KINDS:
                    fail(node.line_of("kind"), f"{_what(node)}: unknown kind '{node.kind}' "
                                               f"(one of {', '.join(LOOKUP_KINDS)})")
                _check_var(node, "key", node.key, collected, fail)
                for name, fmt in node.say.fields():
                    if fmt and fmt not in TEMPLATE_FORMATS:
                        fail(node.line_of("say"), f"{_what(node)} say: unknown format '{fmt}' in {{{name}:{fmt}}} "
                                                  f"(one of {', '.join(TEMPLATE_FORMATS)})")
            case Offer():
                _check_offer(flow, node, fail)
            case BranchCaller():
                for route in node.routes:
                    if route.caller_list not in flow.caller_lists:
                        fail(route.line, f"{_what(node)}: unknown caller list '{route.caller_list}' "
                                         f"(define it under caller_lists:)")


def _check_menu(node: Menu, fail: _Fail) -> None:
    if not node.keys:
        fail(node.line_of("keys"), f"{_what(node)} has no keys")
    seen: dict[str, int] = {}
    for key in node.keys:
        if key.key in seen:
            fail(key.line, f"{_what(node)}: key {key.key} is used twice (first on line {seen[key.key]})")
        else:
            seen[key.key] = key.line


def _check_offer(flow: Flow, node: Offer, fail: _Fail) -> None:
    target = flow.nodes.get(node.queue)
    if target is not None and not isinstance(target, Queue):
        fail(node.line_of("queue"), f"{_what(node)} queue: '{node.queue}' is a {target.type_name} node; keep waiting "
                                    f"goes back to a queue node")
    if node.message is None and node.callback is None:
        fail(node.line, f"{_what(node)} offers nothing: give it 'message' and/or 'callback' (where the call goes "
                        f"after a message / a booking)")
    if node.message is None and any(p.case == "message" for p in node.prompts):
        fail(node.line_of("prompt"), f"{_what(node)} prompt message: no 'message' target, so no message is taken")


def _check_var(node: Node, role: str, var: str, collected: Iterable[str], fail: _Fail) -> None:
    if var != "caller" and var not in collected:
        fail(node.line_of(role), f"{_what(node)} {role}: variable '{var}' is never collected "
                                 f"(use 'caller' or a collect node's var)")


def _what(node: Node) -> str:
    return f"{node.type_name} node '{node.name}'"
