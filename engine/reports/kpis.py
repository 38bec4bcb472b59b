"""The hotline's KPIs over one period, from pre-aggregated sums. Pure: no I/O. The one place of the formulas.

Input: ``PeriodSums``, the period's ``Tally`` sums in groups (calls per start time and first queue, talks per
start time, queue and agent, agent state seconds per time and agent) and the disposition counts. The
database computes them with GROUP BY (engine.reports.query); ``sums_from_facts`` computes the same from
per-call ``CallFacts`` and agent ``AgentSpan``s (the reference the tests hold the SQL to, and what
``_add_call`` documents: which call counts towards which sum). ``build_report`` adds the groups up per
interval (30m, 1h, day, week, month in the settings' time zone), per queue and per agent and computes every
figure of ``FIGURES`` from the sums; each figure carries the one-line formula that ``hotline report
--help``, the text output and the README show. Calls belong to the interval and queue where they started
(their first queue); agent time is cut at interval boundaries; after-call work counts towards a queue
through the calls it followed.

Calls the hotline placed itself (source ``callback``) are not inbound calls: they count only towards
callbacks done / failed and towards the agents' conversations.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Final

from engine.reports.disposition import SHORT_ABANDON_S

INTERVALS: Final = ("30m", "1h", "day", "week", "month")
OCCUPIED_STATES: Final = frozenset({"on_call", "on_hold"})
IDLE_STATE: Final = "available"
ACW_STATE: Final = "after_call_work"

Value = int | float | None


@dataclass(frozen=True)
class Talk:
    """One conversation: the agent, talk seconds (hold excluded), hold seconds, what ended it."""

    agent: str
    talk_s: float
    hold_s: float
    ended_by: str = "end"


@dataclass(frozen=True)
class CallFacts:
    """What reports need of one ended call."""

    call_uid: str
    caller: str | None
    source: str
    started_at: datetime
    disposition: str
    queue: str | None = None
    wait_s: float | None = None
    agent: str | None = None
    rings: int = 0
    talks: tuple[Talk, ...] = ()
    transfers: int = 0
    overflows: int = 0
    tried_self_service: bool = False
    callback: Mapping[str, Any] = field(default_factory=dict)

    @property
    def inbound(self) -> bool:
        return self.source != "callback"

    @classmethod
    def from_detail(cls, call_uid: str, caller: str | None, source: str, started_at: datetime, disposition: str,
                    detail: Mapping[str, Any] | None) -> CallFacts:
        """From a ``calls`` row: ``detail`` is its ``disposition_detail`` JSON."""
        d = detail or {}
        talks = tuple(Talk(str(t[0]), float(t[1]), float(t[2]), str(t[3]) if len(t) > 3 else "end")
                      for t in d.get("talks") or ())
        wait = d.get("wait_s")
        return cls(call_uid=call_uid, caller=caller, source=source, started_at=started_at, disposition=disposition,
                   queue=d.get("queue"), wait_s=None if wait is None else float(wait), agent=d.get("agent"),
                   rings=int(d.get("rings") or 0), talks=talks, transfers=int(d.get("transfers") or 0),
                   overflows=int(d.get("overflows") or 0), tried_self_service=bool(d.get("tried_self_service")),
                   callback=dict(d.get("callback") or {}))


@dataclass(frozen=True)
class AgentSpan:
    """An agent in one state from ``start`` to ``end`` (the next change, or the end of the period)."""

    agent: str
    state: str
    start: datetime
    end: datetime
    call_uid: str | None = None

    def seconds_within(self, start: datetime, end: datetime) -> float:
        return max((min(self.end, end) - max(self.start, start)).total_seconds(), 0.0)


@dataclass(frozen=True)
class Options:
    """The thresholds the formulas use; printed with every report."""

    short_abandon_s: float = SHORT_ABANDON_S
    service_level_s: float = 20.0
    fcr_window: timedelta = timedelta(hours=24)
    vip_queues: frozenset[str] = frozenset({"vip"})

    @property
    def words(self) -> dict[str, str]:
        return {"S": f"{self.short_abandon_s:g}", "T": f"{self.service_level_s:g}",
                "W": f"{self.fcr_window.total_seconds() / 3600:g}", "VIP": ", ".join(sorted(self.vip_queues))}


@dataclass
class Tally:
    """Sums and counts of one group; the figures are ratios of these."""

    calls: int = 0
    offered: int = 0
    answered: int = 0
    answered_within_t: int = 0
    short_abandons: int = 0
    abandoned: int = 0
    unserved: int = 0
    vip_offered: int = 0
    vip_short_abandons: int = 0
    vip_answered_within_t: int = 0
    answered_wait_s: float = 0.0
    waited: int = 0
    wait_s: float = 0.0
    longest_wait_s: float | None = None
    conversations: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    acw_s: float = 0.0
    occupied_s: float = 0.0
    idle_s: float = 0.0
    rings: int = 0
    transferred: int = 0
    resolved_first_time: int = 0
    repeat_calls: int = 0
    silent: int = 0
    messages: int = 0
    callbacks_booked: int = 0
    callbacks_done: int = 0
    callbacks_failed: int = 0
    overflows: int = 0
    self_service: int = 0
    tried_self_service: int = 0
    dispositions: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        """Add ``other``'s sums to these (the longest wait stays the longest)."""
        for name, theirs in vars(other).items():
            if name == "longest_wait_s":
                if theirs is not None:
                    self.longest_wait_s = max(self.longest_wait_s or 0.0, theirs)
            elif name == "dispositions":
                self.dispositions.update(theirs)
            else:
                setattr(self, name, getattr(self, name) + theirs)


TALLY_CALL_SUMS: Final = ("calls", "offered", "answered", "answered_within_t", "short_abandons", "abandoned",
                          "unserved", "vip_offered", "vip_short_abandons", "vip_answered_within_t", "answered_wait_s",
                          "waited", "wait_s", "longest_wait_s", "rings", "transferred", "resolved_first_time",
                          "repeat_calls", "silent", "messages", "callbacks_booked", "callbacks_done",
                          "callbacks_failed", "overflows", "self_service", "tried_self_service")
"""The Tally fields that come from calls (the rest: talks and agent time)."""


def _ratio(part: float, whole: float) -> float | None:
    return None if whole <= 0 else round(100.0 * part / whole, 1)


def _mean(total: float, count: float) -> float | None:
    return None if count <= 0 else round(total / count, 1)


def _aht(t: Tally) -> float | None:
    if t.conversations <= 0:
        return None
    return round((t.talk_s + t.hold_s + t.acw_s) / t.conversations, 1)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str  # "" count, "%" percentage, "s" seconds
    formula: str
    value: Callable[[Tally], Value]


FIGURES: Final = (
    Figure("calls", "calls", "", "inbound calls that started in the period and ended (callbacks placed excluded)",
           lambda t: t.calls),
    Figure("offered", "offered", "", "inbound calls that asked for an agent (reached a queue)", lambda t: t.offered),
    Figure("answered", "answered", "", "offered calls an agent answered", lambda t: t.answered),
    Figure("answered_pct", "answered %", "%", "answered / offered", lambda t: _ratio(t.answered, t.offered)),
    Figure("short_abandons", "short abandons", "", "callers who hung up in a queue within S = {S} s (not abandons)",
           lambda t: t.short_abandons),
    Figure("abandoned", "abandoned", "", "callers who hung up in a queue after more than {S} s",
           lambda t: t.abandoned),
    Figure("abandon_rate", "abandon rate", "%", "abandoned / (offered - short abandons)",
           lambda t: _ratio(t.abandoned, t.offered - t.short_abandons)),
    Figure("unserved", "unserved", "", "offered calls nobody could take (no agent, or maximum wait) that left no "
           "message and booked no callback", lambda t: t.unserved),
    Figure("service_level", "service level", "%", "answered within T = {T} s / (offered - short abandons)",
           lambda t: _ratio(t.answered_within_t, t.offered - t.short_abandons)),
    Figure("service_level_vip", "service level VIP", "%", "the same, for calls of the VIP queues ({VIP})",
           lambda t: _ratio(t.vip_answered_within_t, t.vip_offered - t.vip_short_abandons)),
    Figure("asa", "ASA", "s", "queue wait of answered calls / answered",
           lambda t: _mean(t.answered_wait_s, t.answered)),
    Figure("avg_queue_time", "avg queue time", "s", "queue wait / calls that waited in a queue (answered or not)",
           lambda t: _mean(t.wait_s, t.waited)),
    Figure("longest_queue_time", "longest queue time", "s", "longest queue wait of a call",
           lambda t: None if t.longest_wait_s is None else round(t.longest_wait_s, 1)),
    Figure("avg_talk", "avg talk", "s", "conversation time minus hold / conversations",
           lambda t: _mean(t.talk_s, t.conversations)),
    Figure("avg_hold", "avg hold", "s", "hold time / conversations", lambda t: _mean(t.hold_s, t.conversations)),
    Figure("avg_acw", "avg ACW", "s", "agents' after-call-work time / conversations",
           lambda t: _mean(t.acw_s, t.conversations)),
    Figure("aht", "AHT", "s", "avg talk + avg hold + avg ACW", _aht),
    Figure("occupancy", "occupancy", "%", "(on call + on hold) / (on call + on hold + available), agent state time",
           lambda t: _ratio(t.occupied_s, t.occupied_s + t.idle_s)),
    Figure("rings_before_answer", "rings before answer", "", "agent offers (queue.offered) before the answer / "
           "answered", lambda t: None if t.answered <= 0 else round(t.rings / t.answered, 2)),
    Figure("transfer_rate", "transfer rate", "%", "answered calls transferred at least once / answered",
           lambda t: _ratio(t.transferred, t.answered)),
    Figure("fcr", "first-call resolution", "%", "answered calls whose caller did not call again within W = {W} h / "
           "answered", lambda t: _ratio(t.resolved_first_time, t.answered)),
    Figure("repeat_caller_rate", "repeat-caller rate", "%", "calls whose caller had called in the {W} h before / calls",
           lambda t: _ratio(t.repeat_calls, t.calls)),
    Figure("silent_calls", "silent calls", "", "calls handed to the silent-call script", lambda t: t.silent),
    Figure("messages", "messages", "", "messages callers left", lambda t: t.messages),
    Figure("callbacks_booked", "callbacks booked", "", "callbacks callers booked", lambda t: t.callbacks_booked),
    Figure("callbacks_done", "callbacks done", "", "callback calls that reached the customer and an agent",
           lambda t: t.callbacks_done),
    Figure("callbacks_failed", "callbacks failed", "", "callbacks given up after the last attempt",
           lambda t: t.callbacks_failed),
    Figure("queue_placement_rate", "queue placement rate", "%", "offered / calls (callers who went to a queue)",
           lambda t: _ratio(t.offered, t.calls)),
    Figure("overflows", "overflow events", "", "overflow.moved events (a caller moved to another queue or site)",
           lambda t: t.overflows),
    Figure("self_service_rate", "self-service completion", "%", "calls ended in self-service / calls that tried it "
           "(a look-up, a password check or an incident notice)",
           lambda t: _ratio(t.self_service, t.tried_self_service)),
)
FIGURE_KEYS: Final = tuple(f.key for f in FIGURES)
AGENT_FIGURES: Final = ("conversations", "avg_talk", "avg_hold", "avg_acw", "aht", "occupancy", "transfers",
                        "silent_calls")
_AGENT_EXTRA: Final = {
    "conversations": ("conversations", "", "calls the agent talked to (transferred-in calls included)"),
    "transfers": ("transfers", "", "conversations the agent ended by a transfer"),
}


def formula(key: str, options: Options) -> str:
    """The one-line formula of a figure, thresholds filled in."""
    for figure in FIGURES:
        if figure.key == key:
            return figure.formula.format(**options.words)
    if key in _AGENT_EXTRA:
        return _AGENT_EXTRA[key][2]
    raise KeyError(key)


def label(key: str) -> str:
    for figure in FIGURES:
        if figure.key == key:
            return figure.label
    return _AGENT_EXTRA[key][0]


def unit(key: str) -> str:
    for figure in FIGURES:
        if figure.key == key:
            return figure.unit
    return _AGENT_EXTRA[key][1]


# -- intervals ----------------------------------------------------------------------------------------------


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def interval_floor(moment: datetime, interval: str, tz: tzinfo) -> datetime:
    """The start of the interval holding ``moment``, in ``tz`` (weeks start on Monday)."""
    local = moment.astimezone(tz)
    match interval:
        case "30m":
            return local.replace(minute=local.minute - local.minute % 30, second=0, microsecond=0)
        case "1h":
            return local.replace(minute=0, second=0, microsecond=0)
        case "day":
            return _midnight(local.date(), tz)
        case "week":
            return _midnight(local.date() - timedelta(days=local.weekday()), tz)
        case "month":
            return _midnight(local.date().replace(day=1), tz)
    raise ValueError(f"unknown interval {interval!r} (known: {', '.join(INTERVALS)})")


def _next(start: datetime, interval: str, tz: tzinfo) -> datetime:
    match interval:
        case "30m" | "1h":
            step = timedelta(minutes=30 if interval == "30m" else 60)
            return (start.astimezone(tz) + step).astimezone(tz)
        case "day" | "week":
            return _midnight(start.date() + timedelta(days=1 if interval == "day" else 7), tz)
        case "month":
            first = start.date().replace(day=1)
            return _midnight((first + timedelta(days=32)).replace(day=1), tz)
    raise ValueError(f"unknown interval {interval!r} (known: {', '.join(INTERVALS)})")


def interval_bounds(start: datetime, end: datetime, interval: str, tz: tzinfo) -> list[tuple[datetime, datetime]]:
    """The intervals covering [start, end), the first and last cut at the period's edges."""
    bounds: list[tuple[datetime, datetime]] = []
    cursor = interval_floor(start, interval, tz)
    while cursor < end:
        following = _next(cursor, interval, tz)
        bounds.append((max(cursor, start), min(following, end)))
        cursor = following
    return bounds


# -- the tally ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallerHistory:
    """Start times of each caller's inbound calls from W before the period to W after it."""

    starts: Mapping[str, Sequence[datetime]]

    def called_before(self, caller: str | None, at: datetime, window: timedelta) -> bool:
        times = self.starts.get(caller or "", ())
        i = bisect.bisect_left(times, at)
        return i > 0 and times[i - 1] >= at - window

    def called_again(self, caller: str | None, at: datetime, window: timedelta) -> bool:
        times = self.starts.get(caller or "", ())
        i = bisect.bisect_right(times, at)
        return i < len(times) and times[i] <= at + window


ABANDON_DISPOSITIONS: Final = ("abandoned_queue", "short_abandon")


def queue_outcome(disposition: str, wait_s: float | None, agent: str | None, short_abandon_s: float) -> str:
    """What became of a call that reached a queue: answered, short_abandons, abandoned or unserved (the
    wallboard's split; ``_add_call`` below and the report's SQL count the same way)."""
    if agent is not None:
        return "answered"
    if disposition in ABANDON_DISPOSITIONS:
        return "short_abandons" if (wait_s or 0.0) <= short_abandon_s else "abandoned"
    return "unserved"


def _add_call(t: Tally, call: CallFacts, options: Options, history: CallerHistory) -> None:
    """The rule of every call sum (``TALLY_CALL_SUMS``), one call at a time: the reference. ``kind_tally``
    applies the same rule to the groups engine.reports.query reads from the database."""
    t.callbacks_done += "done" in call.callback
    t.callbacks_failed += "failed" in call.callback
    if not call.inbound:
        return
    name = call.disposition
    t.calls += 1
    t.dispositions[name] += 1
    t.repeat_calls += history.called_before(call.caller, call.started_at, options.fcr_window)
    t.silent += name == "silent"
    t.messages += name == "message_left"
    t.callbacks_booked += "booked" in call.callback
    t.overflows += call.overflows
    t.self_service += name == "self_service"
    t.tried_self_service += call.tried_self_service or name == "self_service"
    if call.queue is None:
        return
    vip = call.queue in options.vip_queues
    t.offered += 1
    t.vip_offered += vip
    if call.wait_s is not None:
        t.waited += 1
        t.wait_s += call.wait_s
        t.longest_wait_s = max(t.longest_wait_s or 0.0, call.wait_s)
    t.unserved += name == "unserved"
    if name in ABANDON_DISPOSITIONS:
        if (call.wait_s or 0.0) <= options.short_abandon_s:
            t.short_abandons += 1
            t.vip_short_abandons += vip
        else:
            t.abandoned += 1
    if call.agent is None:
        return
    wait = call.wait_s or 0.0
    t.answered += 1
    t.answered_wait_s += wait
    within = wait <= options.service_level_s
    t.answered_within_t += within
    t.vip_answered_within_t += vip and within
    t.rings += call.rings
    t.transferred += call.transfers > 0
    t.resolved_first_time += not history.called_again(call.caller, call.started_at, options.fcr_window)


@dataclass(frozen=True)
class CallKind:
    """What the per-call rule branches on, shared by a group of calls: first queue, disposition, whether
    the call is inbound (not a callback the hotline placed) and whether an agent answered it."""

    queue: str | None
    disposition: str | None
    inbound: bool
    answered: bool


@dataclass(frozen=True)
class KindSums:
    """Sums over calls of one ``CallKind`` of what varies from call to call (the database computes them,
    engine.reports.query). A missing wait counts as 0 s in ``within_s``, ``within_t`` and ``wait_or_zero_s``;
    ``called_again``: calls whose caller called again within W; ``repeat_calls``: whose caller had called in
    the W before."""

    calls: int
    within_s: int = 0
    within_t: int = 0
    wait_or_zero_s: float = 0.0
    waited: int = 0
    wait_s: float = 0.0
    longest_wait_s: float | None = None
    rings: int = 0
    transferred: int = 0
    called_again: int = 0
    repeat_calls: int = 0
    callbacks_booked: int = 0
    callbacks_done: int = 0
    callbacks_failed: int = 0
    overflows: int = 0
    tried_self_service: int = 0


def kind_tally(kind: CallKind, sums: KindSums, options: Options) -> Tally:
    """``_add_call``'s rule applied to a group of calls of one kind at once (what the report's SQL returns).

    Every condition on the queue, the disposition, inbound and answered is a constant of the group, so the
    database only sums what varies per call; a test holds the two to the same journal."""
    n, name = sums.calls, kind.disposition
    t = Tally(callbacks_done=sums.callbacks_done, callbacks_failed=sums.callbacks_failed)
    if not kind.inbound:
        return t
    t.calls = n
    if name is not None:
        t.dispositions[name] += n
    t.repeat_calls = sums.repeat_calls
    t.silent = n if name == "silent" else 0
    t.messages = n if name == "message_left" else 0
    t.callbacks_booked = sums.callbacks_booked
    t.overflows = sums.overflows
    t.self_service = n if name == "self_service" else 0
    t.tried_self_service = n if name == "self_service" else sums.tried_self_service
    if kind.queue is None:
        return t
    vip = kind.queue in options.vip_queues
    t.offered = n
    t.vip_offered = n if vip else 0
    t.waited, t.wait_s, t.longest_wait_s = sums.waited, sums.wait_s, sums.longest_wait_s
    t.unserved = n if name == "unserved" else 0
    if name in ABANDON_DISPOSITIONS:
        t.short_abandons = sums.within_s
        t.vip_short_abandons = sums.within_s if vip else 0
        t.abandoned = n - sums.within_s
    if not kind.answered:
        return t
    t.answered = n
    t.answered_wait_s = sums.wait_or_zero_s
    t.answered_within_t = sums.within_t
    t.vip_answered_within_t = sums.within_t if vip else 0
    t.rings = sums.rings
    t.transferred = sums.transferred
    t.resolved_first_time = n - sums.called_again
    return t


def _add_time(t: Tally, state: str, seconds: float, occupancy: bool = True) -> None:
    if state == ACW_STATE:
        t.acw_s += seconds
    elif occupancy and state in OCCUPIED_STATES:
        t.occupied_s += seconds
    elif occupancy and state == IDLE_STATE:
        t.idle_s += seconds


def values(t: Tally) -> dict[str, Value]:
    return {f.key: f.value(t) for f in FIGURES}


def _agent_values(t: Tally, transfers: int, silent: int) -> dict[str, Value]:
    every = values(t)
    return {"conversations": t.conversations, "avg_talk": every["avg_talk"], "avg_hold": every["avg_hold"],
            "avg_acw": every["avg_acw"], "aht": every["aht"], "occupancy": every["occupancy"],
            "transfers": transfers, "silent_calls": silent}


@dataclass(frozen=True)
class Row:
    key: str
    values: Mapping[str, Value]
    tally: Tally = field(default_factory=Tally, repr=False, compare=False)


def merged(tallies: Iterable[Tally]) -> Tally:
    """One tally summing several (e.g. the same half hour of several days); the longest wait stays the longest."""
    total = Tally()
    for t in tallies:
        total.add(t)
    return total


# -- the period's sums ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallGroup:
    """Sums of the ended calls that started at ``at`` (a time step lying in one interval) in one first queue,
    with their conversations' count, talk and hold seconds (only the report's agent's, with ``--agent``)."""

    at: datetime
    queue: str | None
    tally: Tally


@dataclass(frozen=True)
class AgentTalk:
    """One agent's conversations in the period's calls."""

    agent: str
    conversations: int
    talk_s: float
    hold_s: float
    transfers: int = 0
    silent: int = 0


@dataclass(frozen=True)
class StateTime:
    """Seconds agents spent in a state within one time step starting at ``at`` (lying in one interval)."""

    at: datetime
    state: str
    seconds: float


@dataclass(frozen=True)
class AgentTime:
    """Seconds one agent spent in a state during the period."""

    agent: str
    state: str
    seconds: float


@dataclass(frozen=True)
class PeriodSums:
    calls: Sequence[CallGroup]
    agents: Sequence[AgentTalk]
    state_time: Sequence[StateTime]
    agent_time: Sequence[AgentTime]
    dispositions: Mapping[str, int]
    queue_acw: Mapping[str, float] = field(default_factory=dict)
    """After-call work that followed each queue's calls (the whole wrap-up, even past the period's end)."""


def sums_from_facts(calls: Sequence[CallFacts], spans: Sequence[AgentSpan], history: CallerHistory, *,
                    bounds: Sequence[tuple[datetime, datetime]], options: Options = Options(),
                    agent: str | None = None, acw_by_call: Mapping[str, float] | None = None) -> PeriodSums:
    """The sums of per-call facts and agent spans, one group per call and per span piece in an interval.

    With ``agent`` set, ``calls`` and ``spans`` are expected to be that agent's already; only their
    conversations count. ``acw_by_call``: after-call work per call uid (default: the ACW spans' length).
    """
    if acw_by_call is None:
        acw: dict[str, float] = defaultdict(float)
        for span in spans:
            if span.state == ACW_STATE and span.call_uid:
                acw[span.call_uid] += (span.end - span.start).total_seconds()
        acw_by_call = acw
    groups: list[CallGroup] = []
    dispositions: Counter[str] = Counter()
    queue_acw: dict[str, float] = defaultdict(float)
    talks: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0, 0])
    for call in calls:
        tally = Tally()
        _add_call(tally, call, options, history)
        for talk in call.talks:
            if agent is None or talk.agent == agent:
                tally.conversations += 1
                tally.talk_s += talk.talk_s
                tally.hold_s += talk.hold_s
                sums = talks[talk.agent]
                for i, value in enumerate((1, talk.talk_s, talk.hold_s, talk.ended_by == "transfer",
                                           talk.ended_by == "silent")):
                    sums[i] += value
        dispositions.update(tally.dispositions)
        groups.append(CallGroup(call.started_at, call.queue, tally))
        if call.queue is not None and call.call_uid in acw_by_call:
            queue_acw[call.queue] += acw_by_call[call.call_uid]
    state_time = [StateTime(max(span.start, low), span.state, span.seconds_within(low, high))
                  for low, high in bounds for span in spans if span.start < high and span.end > low]
    per_agent: dict[tuple[str, str], float] = defaultdict(float)
    for span in spans:
        per_agent[(span.agent, span.state)] += span.seconds_within(bounds[0][0], bounds[-1][1])
    agent_talks = [AgentTalk(name, int(x[0]), x[1], x[2], int(x[3]), int(x[4])) for name, x in talks.items()]
    agent_time = [AgentTime(name, state, value) for (name, state), value in per_agent.items()]
    return PeriodSums(groups, agent_talks, state_time, agent_time, dict(dispositions), dict(queue_acw))


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    interval: str
    options: Options
    totals: Row
    intervals: list[Row]
    queues: list[Row]
    agents: list[Row]
    dispositions: Mapping[str, int]
    interval_starts: list[datetime]

    @property
    def empty(self) -> bool:
        return self.totals.values["calls"] == 0 and not self.agents and not self.totals.values["callbacks_done"] \
            and not self.totals.values["callbacks_failed"]


def build_report(sums: PeriodSums, *, start: datetime, end: datetime, interval: str, tz: tzinfo,
                 options: Options = Options(), agent: str | None = None) -> Report:
    """Every figure for the whole period, per interval, per queue and per agent.

    Each group of ``sums`` counts in the interval holding its ``at``. With ``agent`` set, the sums are
    expected to be that agent's already (their calls, conversations and time).
    """
    bounds = interval_bounds(start, end, interval, tz)
    starts = [b[0] for b in bounds]
    totals = Tally()
    by_interval: list[Tally] = [Tally() for _ in bounds]
    by_queue: dict[str, Tally] = defaultdict(Tally)
    agents: dict[str, Tally] = defaultdict(Tally)

    def interval_of(at: datetime) -> Tally | None:
        i = bisect.bisect_right(starts, at) - 1
        return by_interval[i] if 0 <= i < len(bounds) and at < end else None

    for group in sums.calls:
        for t in (totals, interval_of(group.at), None if group.queue is None else by_queue[group.queue]):
            if t is not None:
                t.add(group.tally)
    totals.dispositions = Counter(sums.dispositions)
    for queue, seconds in sums.queue_acw.items():
        by_queue[queue].acw_s += seconds
    for time in sums.state_time:
        for t in (totals, interval_of(time.at)):
            if t is not None:
                _add_time(t, time.state, time.seconds)
    for spent in sums.agent_time:
        _add_time(agents[spent.agent], spent.state, spent.seconds)
    transfers: Counter[str] = Counter()
    silent: Counter[str] = Counter()
    for talk in sums.agents:
        mine = agents[talk.agent]
        mine.conversations += talk.conversations
        mine.talk_s += talk.talk_s
        mine.hold_s += talk.hold_s
        transfers[talk.agent] += talk.transfers
        silent[talk.agent] += talk.silent
    agent_rows = [Row(name, _agent_values(agents[name], transfers[name], silent[name]), agents[name])
                  for name in sorted(agents) if (agent is None or name == agent)
                  and (agents[name].conversations or _had_time(agents[name]))]

    return Report(
        start=start, end=end, interval=interval, options=options,
        totals=Row("total", values(totals), totals),
        intervals=[Row(low.astimezone(tz).isoformat(), values(t), t)
                   for (low, _), t in zip(bounds, by_interval, strict=True)],
        queues=[Row(name, values(by_queue[name]), by_queue[name]) for name in sorted(by_queue)],
        agents=agent_rows, dispositions=dict(sorted(totals.dispositions.items())), interval_starts=starts,
    )


def _had_time(t: Tally) -> bool:
    return t.occupied_s + t.idle_s + t.acw_s > 0


# -- agents' state over time (the chart's second panel) ---------------------------------------------------------


def spans_from_changes(changes: Iterable[tuple[str, datetime, str, str | None]], end: datetime,
                       start: datetime | None = None) -> list[AgentSpan]:
    """Agent state spans from ``(agent, at, to_state, call_uid)`` changes sorted by time; the last state of
    each agent lasts until ``end``; spans are cut to start no earlier than ``start``."""
    last: dict[str, tuple[datetime, str, str | None]] = {}
    spans: list[AgentSpan] = []

    def close(agent: str, until: datetime) -> None:
        if agent in last:
            since, state, call = last[agent]
            begin = since if start is None else max(since, start)
            if until > begin:
                spans.append(AgentSpan(agent, state, begin, until, call))

    for agent, at, to_state, call_uid in changes:
        close(agent, min(at, end))
        last[agent] = (at, to_state, call_uid)
    for agent in list(last):
        close(agent, end)
    return spans


def agents_by_state(times: Iterable[StateTime], bounds: Sequence[tuple[datetime, datetime]]) -> dict[str, list[float]]:
    """Average number of agents in each state per interval (state -> one value per interval)."""
    starts = [low for low, _ in bounds]
    result: dict[str, list[float]] = {}
    for time in times:
        i = bisect.bisect_right(starts, time.at) - 1
        if time.state == "logged_out" or not 0 <= i < len(bounds):
            continue
        length = (bounds[i][1] - bounds[i][0]).total_seconds()
        if length > 0:
            result.setdefault(time.state, [0.0] * len(bounds))[i] += time.seconds / length
    return dict(sorted(result.items()))
