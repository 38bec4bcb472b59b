"""Dry runs of a flow: the real ``FlowRunner`` on a scripted caller, no PBX, no database.

``SimulatedChannel`` implements the ``IvrChannel`` port from a key script such as ``1,1,123456#``: each
comma-separated group is one burst the caller types when the IVR next waits for a key; ``T`` (or an
empty group) lets that wait time out; ``H`` hangs up. Keys left in a burst stay in the type-ahead buffer
and cut the following prompts short, exactly as on a real call. Once a burst is used up the next wait
times out, and once the script is used up every wait times out, so menus run out of tries and the flow
reaches its fallback: a simulation never hangs. A queue serves the caller unless ``unserved`` says nobody
can (agents busy, or none signed in): then the flow's offer runs with the caller's next keys.
``SampleSelfService`` and ``NoIncidents`` stand in for the database-backed services. Used by
`hotline flows simulate` (engine.cli.flows) and the unit tests.
"""

from __future__ import annotations

import hmac
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.call_session import CallEnded
from engine.ivr.ports import Choices, Incident, LookupResult, Say
from engine.ivr.runner import Exit, FlowRunner, IvrServices
from engine.prompts.catalog import BY_NAME
from engine.selfservice.loading import sample_data
from engine.selfservice.password_key import PasswordKey
from engine.selfservice.passwords import verify_password
from engine.selfservice.records import NOT_FOUND, ORDER_KIND, account_values, check_kind, order_values
from ivr_flows.model import DTMF_KEYS, Flow

TIMEOUT_GROUP = "T"
HANGUP_GROUP = "H"


def parse_keys(script: str) -> list[str]:
    """``"1,2,123456#"`` → ``["1", "2", "123456#"]``; ``T``/empty → ``""`` (a timeout). ValueError if bad."""
    groups = []
    for raw in script.split(",") if script.strip() else []:
        group = raw.strip().upper()
        if group in (TIMEOUT_GROUP, ""):
            groups.append("")
        elif group == HANGUP_GROUP or all(key in DTMF_KEYS for key in group):
            groups.append(group)
        else:
            raise ValueError(f"key group '{raw.strip()}' may only hold 0-9 * # (or be T for a timeout, H to hang up)")
    return groups


_TRANSCRIBED = {
    "ivr.node": "{node} ({type})",
    "ivr.digits": "    keys:  {digits}{invalid}",
    "ivr.timeout": "    (no key: timeout)",
    "ivr.fallback": "    (tries used up)",
    "ivr.branch": "    -> {to} ({why})",
    "password.checked": "    password ok: {ok}",
    "lookup.result": "    {kind} look-up: {status}",
    "incident.heard": "    (incident {incident} announced)",
    "ivr.exit": "=> {how} {queue}",
    "queue.offer": "    choice: {choice}",
    "queue.keep_waiting": "    (keeps waiting, same place in the queue)",
}
#: ``--unserved``: nobody can take the call in any queue, because agents are all ``busy`` (the caller may
#: also keep waiting) or none is signed in (``closed``).
UNSERVED = ("busy", "closed")


class _Blank(dict[str, Any]):
    """Missing placeholders print as nothing; ``valid: false`` prints as a marker."""

    def __missing__(self, key: str) -> str:
        if key == "invalid":
            return "  (not valid)" if self.get("valid") is False else ""
        return ""


class SimulatedChannel:
    """An ``IvrChannel`` driven by a key script at a fixed time; records what the caller hears."""

    def __init__(self, caller: str, dialed: str, keys: str, at: datetime, text_of: Callable[[Say], str],
                 unserved: str | None = None) -> None:
        self._caller = caller
        self._unserved = unserved
        self._dialed = dialed
        self._at = at
        self._text_of = text_of
        self._groups = deque(parse_keys(keys))
        self._buffer: deque[str] = deque()
        self._typing = False  # the caller is in the middle of a burst: when it is used up, the wait times out
        self.heard: list[str] = []
        self.skipped: list[str] = []
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.transcript: list[str] = []  # nodes, prompts, keys and outcomes in order, for people to read
        self.queued: tuple[str, int] | None = None
        self.hung_up = False

    @property
    def caller(self) -> str:
        return self._caller

    @property
    def dialed(self) -> str:
        return self._dialed

    def now(self) -> datetime:
        return self._at

    async def say(self, items: Sequence[Say], *, barge_in: bool = True) -> None:
        for index, item in enumerate(items):
            if barge_in and self._buffer:
                # Keys typed ahead cut this prompt and the ones after it, as on a real channel.
                cut = [self._text_of(i) for i in items[index:]]
                self.skipped.extend(cut)
                self.transcript.extend(f"    (cut by keys typed ahead) {text}" for text in cut)
                return
            text = self._text_of(item)
            self.heard.append(text)
            self.transcript.append(f"    hears: {text}")
        if not self._buffer:
            self._typing = False  # the caller listened to the prompt: the next burst starts afresh

    async def get_digit(self, timeout: float) -> str | None:
        if self._buffer:
            return self._buffer.popleft()
        if self._typing:
            self._typing = False
            return None  # the burst is over: an inter-digit (or menu) timeout
        if not self._groups:
            return None
        group = self._groups.popleft()
        if group == HANGUP_GROUP:
            raise CallEnded("normal_clearing")
        if not group:
            return None
        self._buffer.extend(group)
        self._typing = True
        return self._buffer.popleft()

    def clear_type_ahead(self) -> None:
        self._buffer.clear()

    def note(self, kind: str, data: Mapping[str, Any] | None = None) -> None:
        details = dict(data or {})
        self.notes.append((kind, details))
        line = _TRANSCRIBED.get(kind)
        if line is not None:
            self.transcript.append(line.format_map(_Blank(details)).rstrip())

    async def reached(self, node: str, kept: Mapping[str, str]) -> None:
        pass

    async def to_queue(self, queue: str, priority: int = 0, node: str | None = None) -> bool:
        self.queued = (queue, priority)
        if self._unserved is None:
            return True
        why = "every agent is busy" if self._unserved == "busy" else "no agent signed in"
        self.transcript.append(f"    (queue {queue}: nobody can take the call, {why})")
        return False

    def choices(self, queue: str) -> Choices:
        return Choices(message=True, callback=self._caller.isdigit(), keep_waiting=self._unserved == "busy")

    async def leave_message(self, queue: str, node: str | None, prompt: str) -> None:
        await self.say([Say(prompt=prompt)], barge_in=False)
        self.clear_type_ahead()
        self.transcript.append(f"    (records the caller's message for queue {queue})")

    async def book_callback(self, queue: str) -> None:
        self.transcript.append(f"    (books a callback in queue {queue}, keeping the caller's place)")

    async def hangup(self) -> None:
        self.hung_up = True


@dataclass(frozen=True)
class SimulationResult:
    path: list[str]
    said: list[str]
    exit: Exit | None  # None when the scripted caller hung up (``H``)
    notes: list[tuple[str, dict[str, Any]]]
    skipped: list[str] = field(default_factory=list)
    transcript: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "said": self.said,
            "skipped": self.skipped,
            "transcript": self.transcript,
            "exit": None if self.exit is None else {"how": self.exit.how, "node": self.exit.node,
                                                    "queue": self.exit.queue, "priority": self.exit.priority},
            "notes": [{"kind": kind, **data} for kind, data in self.notes],
        }


def prompt_texts(flow: Flow, language: str = "zh", extra: Mapping[str, str] | None = None) -> Callable[[Say], str]:
    """What a caller hears for a ``Say``: the flow's text, else the catalog's, else ``[name]``."""

    def text_of(item: Say) -> str:
        if item.text is not None:
            return item.text
        name = item.prompt or ""
        if extra and name in extra:
            return extra[name]
        if name in flow.prompts:
            return flow.prompts[name].text(language)
        if name in BY_NAME:
            return BY_NAME[name].text(language)
        return f"[{name}]"

    return text_of


async def simulate(flow: Flow, services: IvrServices, caller: str, dialed: str, keys: str, at: datetime, *,
                   hotline_number: str = "10086", language: str = "zh",
                   extra_prompts: Mapping[str, str] | None = None, unserved: str | None = None) -> SimulationResult:
    """Run ``flow`` for one scripted call. A naive ``at`` is local time in ``services.tz``. ``unserved``
    (one of ``UNSERVED``) walks the path where nobody can take the call; by default an agent answers."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=services.tz)
    channel = SimulatedChannel(caller, dialed, keys, at, prompt_texts(flow, language, extra_prompts), unserved)
    runner = FlowRunner(flow, services)
    exit_: Exit | None
    try:
        exit_ = await runner.run(channel, flow.entry_for(dialed, hotline_number))
    except CallEnded:
        exit_ = None
    path = [str(data["node"]) for kind, data in channel.notes if kind == "ivr.node"]
    if exit_ is None:
        channel.transcript.append("=> the caller hung up")
    return SimulationResult(path, channel.heard, exit_, channel.notes, channel.skipped, channel.transcript)


# -- stand-ins for the database-backed services -----------------------------------------------------------------


class SampleSelfService:
    """The demo accounts and orders of ``engine.selfservice.loading.sample_data`` in memory.

    13800138000 / password 123456: balance 123.45 yuan, bill 88.00, 3.5 GB of 10 GB used, broadband repair
    20261123001 in progress. Callers can only type digits, so an order is also found by its digits
    (``20261123001``).
    """

    def __init__(self, today: date) -> None:
        self._key = PasswordKey.generate()  # the samples live and die with this object
        records, orders = sample_data(today, self._key)
        self._accounts = {r.account.number: r for r in records}
        self._orders = {o.order_no: o for o in orders}
        self._orders |= {"".join(c for c in o.order_no if c.isdigit()): o for o in orders}

    async def check_password(self, number: str, password: str) -> bool | None:
        record = self._accounts.get(number)
        if record is None:
            # Same work and answer as a wrong password: the reply must not reveal which numbers exist.
            hmac.compare_digest(password, "000000")
            return False
        return verify_password(password, record.password_hash, self._key)

    async def lookup(self, kind: str, key: str) -> LookupResult:
        check_kind(kind)
        if kind == ORDER_KIND:
            order = self._orders.get(key)
            return NOT_FOUND if order is None else order_values(order)
        record = self._accounts.get(key)
        return NOT_FOUND if record is None else account_values(kind, record.account)


class NoIncidents:
    def active_for(self, node: str, now: datetime) -> Sequence[Incident]:
        return ()


class FixedIncidents:
    """Incidents given up front (tests, `flows simulate --incident`), active all the time."""

    def __init__(self, incidents: Sequence[Incident]) -> None:
        self.incidents = list(incidents)

    def active_for(self, node: str, now: datetime) -> Sequence[Incident]:
        return [i for i in self.incidents if node in i.nodes]
