"""The flow language as frozen dataclasses: a ``Flow`` of named nodes, each remembering its file and line.

Built by ``ivr_flows.loader`` (which parses times, dates, caller patterns and templates once, at the
boundary), checked by ``ivr_flows.check`` and run by ``engine.ivr.runner.FlowRunner``. Nothing here does
I/O. ``FlowCalendar`` turns the flow's ``calendar:`` section into the ``Calendar`` port plus opening hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import ClassVar, Literal

# -- values ------------------------------------------------------------------------------------------------

PRIORITIES = {"normal": 0, "high": 10, "urgent": 20}
DTMF_KEYS = frozenset("0123456789*#")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class NumberPattern:
    """A caller-ID entry: ``13800138000`` (exact), ``13900000000-13900000009`` (range), ``1391234*`` (prefix)."""

    kind: Literal["exact", "range", "prefix"]
    low: str
    high: str = ""

    def matches(self, number: str) -> bool:
        if self.kind == "exact":
            return number == self.low
        if self.kind == "prefix":
            return number.startswith(self.low)
        # Equal-length digit strings compare like the numbers they spell.
        return len(number) == len(self.low) and self.low <= number <= self.high


@dataclass(frozen=True)
class OpeningHours:
    """Open periods of one day as minutes since midnight, end exclusive (``24:00`` = 1440)."""

    periods: tuple[tuple[int, int], ...]

    def is_open(self, minute_of_day: int) -> bool:
        return any(start <= minute_of_day < end for start, end in self.periods)


CLOSED = OpeningHours(())


@dataclass(frozen=True)
class TemplatePart:
    """Literal text followed by an optional ``{field:format}`` placeholder."""

    literal: str
    field: str | None = None
    format: str = ""


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[TemplatePart, ...]

    def fields(self) -> list[tuple[str, str]]:
        return [(p.field, p.format) for p in self.parts if p.field is not None]


@dataclass(frozen=True)
class FlowPrompt:
    """A prompt text owned by the flow file (rendered into ``sound:hotline/<name>`` like the catalog's)."""

    name: str
    zh: str
    en: str | None
    file: str
    line: int

    def text(self, language: str) -> str:
        return self.en if language == "en" and self.en else self.zh


@dataclass(frozen=True)
class CalendarSpec:
    """Opening hours per day key (``mon``..``sun``, ``weekdays``, ``weekend``, ``daily``, ``holiday``) and holidays."""

    hours: Mapping[str, OpeningHours] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()
    line: int = 0

    def hours_on(self, day: date, holiday: bool) -> OpeningHours:
        name = WEEKDAYS[day.weekday()]
        keys = ["holiday"] if holiday else []
        keys += [name, "weekend" if day.weekday() >= 5 else "weekdays", "daily"]
        for key in keys:
            if key in self.hours:
                return self.hours[key]
        return CLOSED


class FlowCalendar:
    """The ``Calendar`` port (holidays) and the opening hours, both from a flow's ``calendar:`` section."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.spec = spec

    def is_holiday(self, day: date) -> bool:
        return day in self.spec.holidays

    def is_open(self, local: datetime, holiday: bool) -> bool:
        return self.spec.hours_on(local.date(), holiday).is_open(local.hour * 60 + local.minute)


# -- nodes -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    """A name used by a node (a target node or a prompt), with the line that names it."""

    name: str
    line: int
    role: str


@dataclass(frozen=True, kw_only=True)
class Node:
    name: str
    file: str
    line: int
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    type_name: ClassVar[str] = ""
    #: True for nodes that stop for the caller's keys or end the call: a cycle through one is not a trap.
    waits: ClassVar[bool] = False

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    def _refs(self, role: str, *names: str | None) -> list[Ref]:
        return [Ref(n, self.line_of(role), role) for n in names if n is not None]

    def targets(self) -> list[Ref]:
        return []

    def prompt_refs(self) -> list[Ref]:
        return []


def _prompt_refs(node: Node, key: str, prompts: tuple[str, ...]) -> list[Ref]:
    return [Ref(p, node.line_of(key), key) for p in prompts]


@dataclass(frozen=True, kw_only=True)
class Play(Node):
    type_name: ClassVar[str] = "play"
    prompts: tuple[str, ...]
    next: str
    barge_in: bool = True

    def targets(self) -> list[Ref]:
        return self._refs("next", self.next)

    def prompt_refs(self) -> list[Ref]:
        return _prompt_refs(self, "prompt", self.prompts)


@dataclass(frozen=True)
class MenuKey:
    key: str
    target: str
    line: int


@dataclass(frozen=True, kw_only=True)
class Menu(Node):
    type_name: ClassVar[str] = "menu"
    waits: ClassVar[bool] = True
    prompts: tuple[str, ...]
    keys: tuple[MenuKey, ...]
    timeout: float = 5.0
    tries: int = 3
    invalid_prompt: str = "invalid-input"
    timeout_prompt: str = "no-input"
    fallback: str

    def target_for(self, key: str) -> str | None:
        return next((k.target for k in self.keys if k.key == key), None)

    def targets(self) -> list[Ref]:
        return [Ref(k.target, k.line, f"key {k.key}") for k in self.keys] + self._refs("fallback", self.fallback)

    def prompt_refs(self) -> list[Ref]:
        return (_prompt_refs(self, "prompt", self.prompts) + self._refs("invalid_prompt", self.invalid_prompt)
                + self._refs("timeout_prompt", self.timeout_prompt))


@dataclass(frozen=True, kw_only=True)
class DigitEntry(Node):
    """What ``collect`` and ``password`` share: how digits are typed."""

    prompts: tuple[str, ...]
    first_digit_timeout: float = 8.0
    inter_digit_timeout: float = 4.0
    terminator: str | None = "#"


@dataclass(frozen=True, kw_only=True)
class Collect(DigitEntry):
    type_name: ClassVar[str] = "collect"
    waits: ClassVar[bool] = True
    var: str
    min_length: int = 1
    max_length: int = 20
    tries: int = 3
    invalid_prompt: str = "invalid-input"
    timeout_prompt: str = "no-input"
    secret: bool = False
    next: str
    fallback: str

    def targets(self) -> list[Ref]:
        return self._refs("next", self.next) + self._refs("fallback", self.fallback)

    def prompt_refs(self) -> list[Ref]:
        return (_prompt_refs(self, "prompt", self.prompts) + self._refs("invalid_prompt", self.invalid_prompt)
                + self._refs("timeout_prompt", self.timeout_prompt))


@dataclass(frozen=True, kw_only=True)
class Password(DigitEntry):
    type_name: ClassVar[str] = "password"
    waits: ClassVar[bool] = True
    prompts: tuple[str, ...] = ("password-prompt",)
    account: str = "caller"
    length: int = 6
    tries: int = 2
    retry_prompt: str = "password-wrong"
    timeout_prompt: str = "no-input"
    failure_prompt: str = "password-failed"
    unavailable_prompt: str = "selfservice-unavailable"
    success: str | None = None
    failure: str | None = None
    unavailable: str | None = None

    def targets(self) -> list[Ref]:
        return (self._refs("success", self.success) + self._refs("failure", self.failure)
                + self._refs("unavailable", self.unavailable))

    def prompt_refs(self) -> list[Ref]:
        return (_prompt_refs(self, "prompt", self.prompts) + self._refs("retry_prompt", self.retry_prompt)
                + self._refs("timeout_prompt", self.timeout_prompt) + self._refs("failure_prompt", self.failure_prompt)
                + self._refs("unavailable_prompt", self.unavailable_prompt))


LOOKUP_KINDS = ("balance", "bill", "data_usage", "broadband_order")
#: ``{field:format}`` in a lookup's ``say`` template; engine.ivr.runner reads each out in Mandarin.
TEMPLATE_FORMATS = ("amount", "date", "data", "digits", "number", "month", "order_status", "text")


@dataclass(frozen=True, kw_only=True)
class Lookup(Node):
    type_name: ClassVar[str] = "lookup"
    kind: str
    key: str = "caller"
    say: Template
    not_found_prompt: str = "not-found"
    unavailable_prompt: str = "selfservice-unavailable"
    timeout: float = 3.0
    next: str
    not_found: str | None = None
    fallback: str | None = None

    def targets(self) -> list[Ref]:
        return (self._refs("next", self.next) + self._refs("not_found", self.not_found)
                + self._refs("fallback", self.fallback))

    def prompt_refs(self) -> list[Ref]:
        return self._refs("not_found_prompt", self.not_found_prompt) + self._refs(
            "unavailable_prompt", self.unavailable_prompt)


@dataclass(frozen=True)
class CallerRoute:
    caller_list: str
    target: str
    line: int


@dataclass(frozen=True, kw_only=True)
class BranchCaller(Node):
    type_name: ClassVar[str] = "branch_caller"
    routes: tuple[CallerRoute, ...]
    default: str

    def targets(self) -> list[Ref]:
        return [Ref(r.target, r.line, f"route {r.caller_list}") for r in self.routes] + self._refs(
            "default", self.default)


@dataclass(frozen=True, kw_only=True)
class BranchTime(Node):
    """Order of tests: outside opening hours → ``closed``; a holiday → ``holiday``; before 12:00 →
    ``morning``; else ``open``. Each missing optional target falls back to ``open``."""

    type_name: ClassVar[str] = "branch_time"
    open: str
    closed: str | None = None
    holiday: str | None = None
    morning: str | None = None

    def targets(self) -> list[Ref]:
        return (self._refs("open", self.open) + self._refs("closed", self.closed)
                + self._refs("holiday", self.holiday) + self._refs("morning", self.morning))


@dataclass(frozen=True, kw_only=True)
class Goto(Node):
    type_name: ClassVar[str] = "goto"
    next: str

    def targets(self) -> list[Ref]:
        return self._refs("next", self.next)


@dataclass(frozen=True, kw_only=True)
class Queue(Node):
    """Hand the caller to an ACD queue. When nobody can take the call there (queue closed, maximum wait,
    per-call overflow found nothing), the flow goes on at ``unserved``; without it the caller hears the
    catalog's apology (``agent-unavailable``) and the call ends."""

    type_name: ClassVar[str] = "queue"
    waits: ClassVar[bool] = True
    queue: str
    priority: int = 0
    prompts: tuple[str, ...] = ()
    unserved: str | None = None

    def targets(self) -> list[Ref]:
        return self._refs("unserved", self.unserved)

    def prompt_refs(self) -> list[Ref]:
        return _prompt_refs(self, "prompt", self.prompts)


#: What an offer's prompt depends on: only a message can be left; a callback can be booked too; and the
#: caller may also keep waiting (agents are signed in but busy).
OFFER_CASES = ("message", "callback", "wait")
OFFER_PROMPTS = {"message": "offer-message", "callback": "offer-callback", "wait": "offer-callback-wait"}
#: The choices' keys (HOTLINE_RULES, 投诉受理要求 5).
MESSAGE_KEY, CALLBACK_KEY, WAIT_KEY = "1", "2", "3"


@dataclass(frozen=True)
class OfferPrompt:
    case: str
    prompt: str
    line: int


@dataclass(frozen=True, kw_only=True)
class Offer(Node):
    """The choices of a caller nobody can take (自动录音受理 / 预约回呼): 1 leave a message, 2 book a callback
    (when callbacks are enabled and the caller's number is known), 3 keep waiting in the same place (when
    agents are signed in but busy; at most ``keep_waiting`` times). Which of them exist right now is the
    channel's to say; with neither a message nor a callback possible the caller goes to ``fallback`` at once.

    ``queue`` names the queue node "keep waiting" goes back to (the caller keeps their place and does not
    hear that node's prompt again); ``message`` / ``callback`` are where the call goes after a message was
    left / a callback booked (no target: that choice is not offered); ``fallback`` after no valid key."""

    type_name: ClassVar[str] = "offer"
    waits: ClassVar[bool] = True
    queue: str
    prompts: tuple[OfferPrompt, ...] = ()
    timeout: float = 6.0
    keep_waiting: int = 3
    message_prompt: str = "message-prompt"
    message: str | None = None
    callback: str | None = None
    fallback: str

    def prompt_for(self, case: str) -> str:
        return next((p.prompt for p in self.prompts if p.case == case), OFFER_PROMPTS[case])

    def targets(self) -> list[Ref]:
        return (self._refs("queue", self.queue) + self._refs("message", self.message)
                + self._refs("callback", self.callback) + self._refs("fallback", self.fallback))

    def prompt_refs(self) -> list[Ref]:
        return ([Ref(p.prompt, p.line, f"prompt {p.case}") for p in self.prompts]
                + self._refs("message_prompt", self.message_prompt))


@dataclass(frozen=True, kw_only=True)
class Hangup(Node):
    type_name: ClassVar[str] = "hangup"
    waits: ClassVar[bool] = True
    prompts: tuple[str, ...] = ()

    def prompt_refs(self) -> list[Ref]:
        return _prompt_refs(self, "prompt", self.prompts)


NODE_TYPES: tuple[type[Node], ...] = (Play, Menu, Collect, Password, Lookup, BranchCaller, BranchTime, Goto, Queue,
                                      Offer, Hangup)

# -- the flow ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeedLine:
    suffix: str
    target: str
    line: int


@dataclass(frozen=True)
class Flow:
    name: str
    file: str
    line: int
    start: str
    nodes: Mapping[str, Node]
    prompts: Mapping[str, FlowPrompt] = field(default_factory=dict)
    speed_lines: tuple[SpeedLine, ...] = ()
    caller_lists: Mapping[str, tuple[NumberPattern, ...]] = field(default_factory=dict)
    calendar: CalendarSpec = field(default_factory=CalendarSpec)
    lines: Mapping[str, int] = field(default_factory=dict, compare=False)

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    def entry_for(self, dialed: str, hotline_number: str) -> str:
        """The node a call starts at: the speed line's for ``hotline_number + suffix``, else ``start``."""
        if dialed.startswith(hotline_number):
            suffix = dialed[len(hotline_number):]
            for speed in self.speed_lines:
                if speed.suffix == suffix:
                    return speed.target
        return self.start

    def caller_in(self, list_name: str, number: str) -> bool:
        return any(p.matches(number) for p in self.caller_lists.get(list_name, ()))
