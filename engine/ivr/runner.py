"""The one runner of the declarative flows (``ivr_flows``): walks a checked ``Flow`` on an ``IvrChannel``.

Each node kind has one small handler returning the next node's name or an ``Exit``. Normal outcomes
(timeout, invalid key, wrong password, a data source down) are values that pick the next node; a caller
hangup is ``engine.call_session.CallEnded`` raised by the channel and simply propagates. A queue node
hands the caller to the ACD and waits there; when nobody can take the call the walk goes on at the node's
``unserved`` (usually an ``offer`` node: message, callback or keep waiting, with the keys the channel says
are possible right now). Collaborators:
engine.ivr.ports (channel and data ports), engine.speech.mandarin (values read out), ivr_flows.check (a flow
is checked before it is ever run).

Journal kinds (``channel.note``): ``ivr.node`` on entering each node, ``incident.heard``, ``ivr.digits``
(secret entries masked), ``ivr.timeout``, ``ivr.fallback`` (menu/collect tries used up), ``ivr.branch``,
``password.checked`` (``ok`` only, never digits), ``lookup.result`` (kind, status), ``ivr.exit`` (when the
caller is handed to a queue or the call ends), ``queue.offer`` (the caller's choice) and ``queue.keep_waiting``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from engine.call_session import CallEnded
from engine.ivr.ports import Calendar, Choices, Incidents, IvrChannel, LookupResult, Say, SelfService
from engine.speech.mandarin import say_amount, say_data_mb, say_date, say_digits, say_number, say_order_status
from ivr_flows.check import check_flow
from ivr_flows.errors import FlowError, Problem
from ivr_flows.model import (
    CALLBACK_KEY,
    MESSAGE_KEY,
    WAIT_KEY,
    BranchCaller,
    BranchTime,
    Collect,
    Flow,
    FlowCalendar,
    Goto,
    Hangup,
    Lookup,
    Menu,
    Node,
    Offer,
    Password,
    Play,
    Queue,
    Template,
)

log = logging.getLogger(__name__)

CHINA = ZoneInfo("Asia/Shanghai")
MASK = "******"  # what the journal shows for secret entries: not even their length
PASSWORD_CHECK_TIMEOUT = 5.0
#: Said when a queue node without ``unserved`` could not serve the caller, before the call ends.
UNAVAILABLE_PROMPT = "agent-unavailable"


@dataclass(frozen=True)
class IvrServices:
    """What flows look things up in. ``calendar=None`` uses the holidays of the flow's own ``calendar:``."""

    self_service: SelfService
    incidents: Incidents
    calendar: Calendar | None = None
    tz: tzinfo = CHINA


@dataclass(frozen=True)
class Exit:
    """How the IVR part of a call ended: handed to a queue, hung up, or stopped by the step guard."""

    how: Literal["queued", "hangup", "step_limit"]
    node: str
    queue: str | None = None
    priority: int = 0


@dataclass
class _CallState:
    """What one call's walk through the flow remembers."""

    vars: dict[str, str] = field(default_factory=dict)
    verified: set[str] = field(default_factory=set)  # accounts whose password was right on this call
    heard: set[int] = field(default_factory=set)  # incident ids already announced
    path: list[str] = field(default_factory=list)
    kept_waiting: dict[str, int] = field(default_factory=dict)  # per offer node: times the caller chose 3
    returning: str | None = None  # the queue node a caller who chose to keep waiting goes back to


# -- values read out in Mandarin ----------------------------------------------------------------------------


def _month(value: Any, values: Mapping[str, Any]) -> str:
    # Sources give the bill month as "2026-11" (or None for the current one).
    if value is None:
        return "本"
    return f"{say_number(int(str(value).split('-')[-1]))}"


def _order_status(value: Any, values: Mapping[str, Any]) -> str:
    eta = values.get("eta")
    return say_order_status(str(values["kind"]), str(value), eta if isinstance(eta, date) else None)


def _date(value: Any, values: Mapping[str, Any]) -> str:
    if not isinstance(value, date):
        raise ValueError(f"{value!r} is not a date")
    return say_date(value)


FORMATS: dict[str, Callable[[Any, Mapping[str, Any]], str]] = {
    "amount": lambda v, _: say_amount(int(v)),
    "date": _date,
    "data": lambda v, _: say_data_mb(int(v)),
    "digits": lambda v, _: say_digits(str(v)),
    "number": lambda v, _: say_number(int(v)),
    "month": _month,
    "order_status": _order_status,
    "text": lambda v, _: str(v),
}


def render_template(template: Template, values: Mapping[str, Any]) -> str:
    """The text to synthesize; KeyError/ValueError/TypeError when the values do not fit the template."""
    out = []
    for part in template.parts:
        out.append(part.literal)
        if part.field is not None:
            value = values[part.field]
            if value is None and part.format != "month":
                raise ValueError(f"no value for {part.field}")
            out.append(FORMATS[part.format or "text"](value, values))
    return "".join(out)


# -- the runner ---------------------------------------------------------------------------------------------


class FlowRunner:
    def __init__(self, flow: Flow, services: IvrServices, *, max_steps: int = 300) -> None:
        # Check, then act: a flow with problems never reaches a caller.
        problems = check_flow(flow)
        if problems:
            raise FlowError(problems)
        self.flow = flow
        self.services = services
        self.hours = FlowCalendar(flow.calendar)
        self.calendar: Calendar = services.calendar or self.hours
        # Entries never written down outside this call (passwords typed in a collect node).
        self.secret_vars = frozenset(n.var for n in flow.nodes.values() if isinstance(n, Collect) and n.secret)
        # A guard against walking forever (e.g. a caller pressing "repeat" all night).
        self.max_steps = max_steps

    async def run(self, channel: IvrChannel, start: str | None = None,
                  kept: Mapping[str, str] | None = None) -> Exit:
        """Walk the flow from ``start`` (default: the flow's start) until the call is queued or hung up.

        ``kept`` are the entries of an earlier walk of this call (a call resumed after a controller restart
        at the node it had reached)."""
        call = _CallState(vars=dict(kept or {}))
        name = start or self.flow.start
        if name not in self.flow.nodes:
            raise FlowError([Problem(self.flow.file, self.flow.line, f"no node '{name}' to start at")])
        while True:
            if len(call.path) >= self.max_steps:
                log.warning("flow %s: step limit reached at node %s", self.flow.name, name)
                return await self._exit(channel, Exit("step_limit", name), hangup=True)
            node = self.flow.nodes[name]
            call.path.append(name)
            # Instant nodes have nothing to resume; a caller going back to wait keeps their queue position.
            if not isinstance(node, (Goto, BranchCaller, BranchTime)) and call.returning != name:
                await channel.reached(name, {k: v for k, v in call.vars.items() if k not in self.secret_vars})
            channel.note("ivr.node", {"node": name, "type": node.type_name})
            await self._announce_incidents(channel, call, name)
            result = await self._step(channel, call, node)
            if isinstance(result, Exit):
                return result
            name = result

    async def _step(self, channel: IvrChannel, call: _CallState, node: Node) -> str | Exit:
        match node:
            case Play():
                await _say(channel, node.prompts, barge_in=node.barge_in)
                return node.next
            case Goto():
                return node.next
            case Menu():
                return await self._menu(channel, node)
            case Collect():
                return await self._collect(channel, call, node)
            case Password():
                return await self._password(channel, call, node)
            case Lookup():
                return await self._lookup(channel, call, node)
            case BranchCaller():
                return self._branch_caller(channel, node)
            case BranchTime():
                return self._branch_time(channel, node)
            case Queue():
                return await self._queue(channel, call, node)
            case Offer():
                return await self._offer(channel, call, node)
            case Hangup():
                await _say(channel, node.prompts, barge_in=False)
                return await self._exit(channel, Exit("hangup", node.name), hangup=True)
        raise TypeError(f"no handler for node type {type(node).__name__}")  # pragma: no cover

    async def _exit(self, channel: IvrChannel, exit_: Exit, hangup: bool = False) -> Exit:
        data: dict[str, Any] = {"how": exit_.how, "node": exit_.node}
        if exit_.queue is not None:
            data |= {"queue": exit_.queue, "priority": exit_.priority}
        channel.note("ivr.exit", data)
        log.info("flow %s: %s at %s", self.flow.name, exit_.how, exit_.node)
        if hangup:
            await channel.hangup()
        return exit_

    # -- queues and the choices of a caller nobody can take ----------------------------------------------------
    async def _queue(self, channel: IvrChannel, call: _CallState, node: Queue) -> str | Exit:
        exit_ = Exit("queued", node.name, node.queue, node.priority)
        if call.returning == node.name:  # back from "keep waiting": same place, no prompt again
            call.returning = None
        else:
            await _say(channel, node.prompts, barge_in=False)
            await self._exit(channel, exit_)
        if await channel.to_queue(node.queue, node.priority, node.name):
            return exit_
        if node.unserved is not None:
            return node.unserved
        await _say(channel, (UNAVAILABLE_PROMPT,), barge_in=False)
        return exit_

    async def _offer(self, channel: IvrChannel, call: _CallState, node: Offer) -> str:
        queue_node = self.flow.nodes[node.queue]
        assert isinstance(queue_node, Queue)  # check_flow guarantees it
        queue = queue_node.queue
        keys = offer_keys(node, channel.choices(queue), call.kept_waiting.get(node.name, 0))
        if not keys:
            return node.fallback  # neither a message nor a callback can be taken: straight to the apology
        case = "wait" if WAIT_KEY in keys else "callback" if CALLBACK_KEY in keys else "message"
        channel.clear_type_ahead()
        await _say(channel, (node.prompt_for(case),))
        key = await channel.get_digit(node.timeout)
        choice = key if key in keys else None
        channel.note("queue.offer", {"queue": queue, "choice": choice})
        if choice == MESSAGE_KEY and node.message is not None:
            await channel.leave_message(queue, node.name, node.message_prompt)
            return node.message
        if choice == CALLBACK_KEY and node.callback is not None:
            await channel.book_callback(queue)
            return node.callback
        if choice == WAIT_KEY:
            call.kept_waiting[node.name] = call.kept_waiting.get(node.name, 0) + 1
            channel.note("queue.keep_waiting", {"queue": queue})
            call.returning = node.queue
            return node.queue
        return node.fallback

    async def _announce_incidents(self, channel: IvrChannel, call: _CallState, node: str) -> None:
        for incident in self.services.incidents.active_for(node, channel.now()):
            if incident.id in call.heard:
                continue
            call.heard.add(incident.id)
            # Heard in full: the outage notice is why the caller may not need an agent at all.
            await channel.say([Say(prompt=incident.prompt)], barge_in=False)
            channel.note("incident.heard", {"incident": incident.id, "node": node})

    # -- waiting for the caller -------------------------------------------------------------------------------
    async def _menu(self, channel: IvrChannel, node: Menu) -> str:
        for attempt in range(1, node.tries + 1):
            # Keys typed during earlier prompts are still buffered: they skip this prompt and select at once.
            await _say(channel, node.prompts)
            key = await channel.get_digit(node.timeout)
            if key is None:
                channel.note("ivr.timeout", {"node": node.name, "try": attempt})
                again = node.timeout_prompt
            else:
                target = node.target_for(key)
                channel.note("ivr.digits", {"node": node.name, "digits": key, "valid": target is not None})
                if target is not None:
                    return target
                channel.clear_type_ahead()
                again = node.invalid_prompt
            if attempt < node.tries:
                await _say(channel, (again,))
        channel.note("ivr.fallback", {"node": node.name, "tries": node.tries})
        return node.fallback

    async def _collect(self, channel: IvrChannel, call: _CallState, node: Collect) -> str:
        for attempt in range(1, node.tries + 1):
            await _say(channel, node.prompts)
            entry = await _read_digits(channel, node, node.max_length)
            if entry is None:
                channel.note("ivr.timeout", {"node": node.name, "try": attempt})
                again = node.timeout_prompt
            else:
                valid = entry.isdigit() and node.min_length <= len(entry) <= node.max_length
                channel.note("ivr.digits", {"node": node.name, "var": node.var,
                                            "digits": MASK if node.secret else entry, "valid": valid})
                if valid:
                    call.vars[node.var] = entry
                    return node.next
                channel.clear_type_ahead()
                again = node.invalid_prompt
            if attempt < node.tries:
                await _say(channel, (again,))
        channel.note("ivr.fallback", {"node": node.name, "tries": node.tries})
        return node.fallback

    async def _password(self, channel: IvrChannel, call: _CallState, node: Password) -> str:
        assert node.success is not None and node.failure is not None  # check_flow guarantees both
        account = channel.caller if node.account == "caller" else call.vars.get(node.account)
        if not account:
            log.warning("flow %s: node %s has no account number (%s not collected)", self.flow.name, node.name,
                        node.account)
            await _say(channel, (node.unavailable_prompt,), barge_in=False)
            return node.unavailable or node.failure
        if account in call.verified:
            # Once per call: the caller proved it already for this account.
            channel.note("password.checked", {"node": node.name, "ok": True, "remembered": True})
            return node.success
        prompts = node.prompts
        for attempt in range(1, node.tries + 1):
            await _say(channel, prompts)
            entry = await _read_digits(channel, node, node.length)
            if entry is None:
                channel.note("ivr.timeout", {"node": node.name, "try": attempt})
                prompts = (node.timeout_prompt, *node.prompts)
                continue
            channel.note("ivr.digits", {"node": node.name, "digits": MASK})
            ok = await self._check_password(account, entry) if _well_formed(entry, node.length) else False
            if ok is None:
                channel.note("lookup.result", {"node": node.name, "kind": "password", "status": "unavailable"})
                await _say(channel, (node.unavailable_prompt,), barge_in=False)
                return node.unavailable or node.failure
            channel.note("password.checked", {"node": node.name, "ok": ok})
            if ok:
                call.verified.add(account)
                return node.success
            channel.clear_type_ahead()
            prompts = (node.retry_prompt,)
        await _say(channel, (node.failure_prompt,), barge_in=False)
        return node.failure

    async def _check_password(self, account: str, password: str) -> bool | None:
        try:
            return await asyncio.wait_for(self.services.self_service.check_password(account, password),
                                          PASSWORD_CHECK_TIMEOUT)
        except CallEnded:
            raise
        except Exception as err:  # the source is slow or down: the caller gets the fallback, not silence
            log.warning("password check unavailable: %s", type(err).__name__)
            return None

    # -- looking things up ------------------------------------------------------------------------------------
    async def _lookup(self, channel: IvrChannel, call: _CallState, node: Lookup) -> str:
        key = channel.caller if node.key == "caller" else call.vars.get(node.key, "")
        result = await self._fetch(node, key) if key else LookupResult("not_found")
        text = None
        status = result.status
        if status == "ok":
            values = {"caller": channel.caller, **call.vars, **result.values}
            try:
                text = render_template(node.say, values)
            except (KeyError, ValueError, TypeError) as err:
                log.warning("flow %s: node %s cannot read out the %s result: %r", self.flow.name, node.name,
                            node.kind, err)
                status = "unavailable"
        channel.note("lookup.result", {"node": node.name, "kind": node.kind, "status": status})
        if text is not None:
            await channel.say([Say(text=text)])
            return node.next
        if status == "not_found":
            await _say(channel, (node.not_found_prompt,))
            return node.not_found or node.next
        await _say(channel, (node.unavailable_prompt,), barge_in=False)
        return node.fallback or node.next

    async def _fetch(self, node: Lookup, key: str) -> LookupResult:
        try:
            return await asyncio.wait_for(self.services.self_service.lookup(node.kind, key), node.timeout)
        except CallEnded:
            raise
        except Exception as err:  # slow (TimeoutError) or broken source: say so and move on
            log.warning("lookup %s unavailable: %s", node.kind, type(err).__name__)
            return LookupResult("unavailable")

    # -- branches -------------------------------------------------------------------------------------------
    def _branch_caller(self, channel: IvrChannel, node: BranchCaller) -> str:
        for route in node.routes:
            if self.flow.caller_in(route.caller_list, channel.caller):
                channel.note("ivr.branch", {"node": node.name, "to": route.target, "why": route.caller_list})
                return route.target
        channel.note("ivr.branch", {"node": node.name, "to": node.default, "why": "default"})
        return node.default

    def _branch_time(self, channel: IvrChannel, node: BranchTime) -> str:
        local = channel.now().astimezone(self.services.tz)
        holiday = self.calendar.is_holiday(local.date())
        if not self.hours.is_open(local, holiday) and node.closed:
            why, target = "closed", node.closed
        elif holiday and node.holiday:
            why, target = "holiday", node.holiday
        elif local.hour < 12 and node.morning:
            why, target = "morning", node.morning
        else:
            why, target = "open", node.open
        channel.note("ivr.branch", {"node": node.name, "to": target, "why": why})
        return target


def offer_keys(node: Offer, choices: Choices, kept_waiting: int) -> frozenset[str]:
    """The keys an offer accepts now: 1 (message) and 2 (callback) when possible and the node has somewhere to
    go after them; 3 (keep waiting) only beside a callback, when agents are busy, at most ``keep_waiting``
    times. Empty: nothing to offer."""
    message = choices.message and node.message is not None
    callback = choices.callback and node.callback is not None
    wait = callback and choices.keep_waiting and kept_waiting < node.keep_waiting
    return frozenset(k for k, ok in ((MESSAGE_KEY, message), (CALLBACK_KEY, callback), (WAIT_KEY, wait)) if ok)


async def _say(channel: IvrChannel, prompts: Sequence[str], barge_in: bool = True) -> None:
    if prompts:
        await channel.say([Say(prompt=p) for p in prompts], barge_in=barge_in)


def _well_formed(entry: str, length: int) -> bool:
    return entry.isdigit() and len(entry) == length


async def _read_digits(channel: IvrChannel, node: Collect | Password, max_length: int) -> str | None:
    """Keys up to the terminator (or ``max_length`` without one, or an inter-digit timeout); None when the
    caller typed nothing before the first-digit timeout. With a terminator, a full-length entry still waits
    for it so a trailing ``#`` is not left over for the next menu."""
    key = await channel.get_digit(node.first_digit_timeout)
    if key is None:
        return None
    entry = ""
    while True:
        if key == node.terminator:
            return entry
        entry += key
        if len(entry) > max_length or (node.terminator is None and len(entry) == max_length):
            return entry
        key = await channel.get_digit(node.inter_digit_timeout)
        if key is None:
            return entry
