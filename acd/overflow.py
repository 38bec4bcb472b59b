"""The overflow ladder (应急梯队), pure: reserve tiers signed in stage by stage, signed out in reverse order.

``evaluate(state, measurement, now) -> (state, events)`` is the whole policy. The controller measures a
queue (``measure`` builds a ``Measurement`` from the ACD's values, or it fills one itself), calls
``evaluate`` about once a second, journals every returned event and runs the commands among them through
its ports: ``SignIn`` and ``SignOut`` become ``acd.state.SignIn`` / ``SignOut`` for that agent, ``Alert``
goes to the operator's command. Supervisors' commands are ``set_stage``, ``hold`` and ``release``, with
the same shape. ``restore(queue, ladder, events)`` rebuilds the state from the journaled events after a
restart: the stage, the mode and who the plan signed in (timers start again). ``evaluate`` folds its own
events with the same ``apply``, so a restored state is the state the events describe.

The rules (shared/HOTLINE_RULES.md, "Overflow escalation"; the shipped plan is in acd/queues.yaml):

- Stages are ordered. Stage k+1 fires when its condition has held for its ``hold_s``, counted from when
  the condition started holding, but never before stage k was entered ("5 more minutes"). A stage's
  condition also counts as holding when the condition of any later stage holds: a surge heavier than a
  band (waiting above its upper bound) never holds the plan back; the stages are still taken in order.
- A stage signs in up to N *registered* reserve agents of its tier, longest idle first (``SignIn``), or
  raises an ``Alert`` saying how many more seats Erlang C needs. Reserve agents whose softphone is not
  registered are skipped and reported (``Skipped``), never counted.
- Release, with hysteresis: when ``waiting <= release_waiting`` has held for ``release_dwell_s`` and the
  stage is at least ``min_stage_s`` old, the ladder steps down one stage; that stage's agents leave in
  reverse order of sign-in, never mid-call: an agent on a call gets ``SignOut(after_call=True)`` (the agent
  state machine keeps it pending until the call and its wrap-up end), an agent in wrap-up is asked once
  the wrap-up is over. The next step down needs another dwell.
- Night mode: inside the ladder's night window every registered reserve agent (any tier but ``inbound``)
  is signed in; when the window ends they leave the same way.
- ``set_stage`` (by hand, e.g. `hotline overflow set` or an incident's surge) moves to a stage at once and
  pins it: only ``release`` gives the ladder back to its rules. ``hold`` freezes the stage and night mode
  (agents already asked to leave still leave); ``release`` ends it too.

Every event carries the ``Reading`` (queue figures) that triggered it, for the journal and the KPI
reports; ``to_record`` / ``from_record`` turn events into JSON-able dicts and back. ``now`` is the
controller's clock (aware datetime, in the hotline's time zone: the night window is wall-clock time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, time
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from acd.erlang import agents_needed
from acd.model import Agent, AgentId, AgentState, AgentStatus, QueueName

if TYPE_CHECKING:  # acd.routing imports acd.queues, which reads the ladders with acd.overflow_config
    from acd.routing import WaitingCaller

INBOUND: Final = "inbound"
"""The tier of ordinary inbound agents: never a reserve, never signed in by the plan."""
NIGHT: Final = "night"
"""The stage name night-mode sign-ins are recorded under."""
NORMAL: Final = "normal"
"""The name of stage 0: no reserve stage active."""

BUSY = frozenset({AgentState.RINGING, AgentState.ON_CALL, AgentState.ON_HOLD})

# -- the ladder (configuration, from acd.overflow_config) ----------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """All given criteria must hold: ``waiting_above < waiting <= waiting_at_most``, longest wait at least
    ``longest_wait_s``, service level below ``service_level_below`` (a share, 0..1; no calls in the window
    = no judgement, the criterion does not hold), agents available at most ``available_at_most``."""

    waiting_above: int | None = None
    waiting_at_most: int | None = None
    longest_wait_s: float | None = None
    service_level_below: float | None = None
    available_at_most: int | None = None

    def holds(self, r: Reading) -> bool:
        if self.waiting_above is not None and not r.waiting > self.waiting_above:
            return False
        if self.waiting_at_most is not None and not r.waiting <= self.waiting_at_most:
            return False
        if self.longest_wait_s is not None and not r.longest_wait_s >= self.longest_wait_s:
            return False
        if self.service_level_below is not None and (r.service_level is None
                                                     or not r.service_level < self.service_level_below):
            return False
        return self.available_at_most is None or r.agents_available <= self.available_at_most

    def describe(self) -> str:
        parts: list[str] = []
        if self.waiting_above is not None or self.waiting_at_most is not None:
            low = f"{self.waiting_above} < " if self.waiting_above is not None else ""
            high = f" <= {self.waiting_at_most}" if self.waiting_at_most is not None else ""
            parts.append(f"{low}waiting{high}")
        if self.longest_wait_s is not None:
            parts.append(f"longest wait >= {self.longest_wait_s:g} s")
        if self.service_level_below is not None:
            parts.append(f"service level < {self.service_level_below:.0%}")
        if self.available_at_most is not None:
            parts.append(f"agents available <= {self.available_at_most}")
        return " and ".join(parts)


@dataclass(frozen=True)
class SignInTier:
    """Sign in up to ``up_to`` registered agents of ``tier`` (None: all of them)."""

    tier: str
    up_to: int | None = None


@dataclass(frozen=True)
class RaiseAlert:
    """Alert the supervisor with the seats Erlang C needs for ``target`` answered within ``answer_within_s``."""

    target: float = 0.8
    answer_within_s: float = 20


@dataclass(frozen=True)
class Stage:
    name: str
    condition: Condition
    hold_s: float
    action: SignInTier | RaiseAlert
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class NightWindow:
    """Wall-clock window, ``start`` included, ``end`` excluded; it may run past midnight (22:00-08:00)."""

    start: time
    end: time

    def covers(self, at: datetime) -> bool:
        now = at.time().replace(tzinfo=None)
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Ladder:
    """One queue's plan. ``service_level_window_min`` tells the controller over how many minutes to
    measure the service level it puts in the ``Measurement``."""

    stages: tuple[Stage, ...]
    release_waiting: int = 5
    release_dwell_s: float = 300
    min_stage_s: float = 300
    service_level_window_min: float = 15
    night: NightWindow | None = None

    def stage_name(self, index: int) -> str:
        return NORMAL if index <= 0 else self.stages[index - 1].name

    def index_of(self, name: str) -> int | None:
        if name == NORMAL:
            return 0
        return next((i for i, s in enumerate(self.stages, start=1) if s.name == name), None)


# -- what the controller measures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """The queue's figures at one moment: what every event carries into the journal. ``service_level`` is
    the share answered within the queue's target over the ladder's window (None: no calls there)."""

    waiting: int
    longest_wait_s: float = 0
    service_level: float | None = None
    agents_available: int = 0
    agents_serving: int = 0
    arrivals_per_h: float = 0
    aht_s: float = 0

    def describe(self) -> str:
        sl = "-" if self.service_level is None else f"{self.service_level:.0%}"
        return (f"waiting {self.waiting}, longest {self.longest_wait_s:.0f} s, service level {sl}, "
                f"{self.agents_available} available of {self.agents_serving} serving")


@dataclass(frozen=True)
class ReserveAgent:
    """A signed-out agent of a reserve tier who could serve the queue. ``idle_since``: when they became
    free (signed out); the longest idle are called first (None: last)."""

    agent: AgentId
    tier: str
    registered: bool
    idle_since: datetime | None = None


@dataclass(frozen=True)
class Measurement:
    """The live queue state ``evaluate`` reads. ``plan_agents``: the current state of every agent the plan
    signed in (``state.plan_agent_ids()``); an agent missing or logged out there has left."""

    reading: Reading
    reserves: tuple[ReserveAgent, ...] = ()
    plan_agents: Mapping[AgentId, AgentState] = field(default_factory=dict)


# -- events: the journal and the commands --------------------------------------------------------------------


class Mode(StrEnum):
    AUTO = "auto"
    MANUAL = "manual"
    HELD = "held"


@dataclass(frozen=True)
class StageChanged:
    queue: QueueName
    at: datetime
    from_stage: str
    to_stage: str
    to_index: int
    reason: str
    reading: Reading
    by_hand: bool = False


@dataclass(frozen=True)
class SignIn:
    """Command: sign this agent in (it also cancels a sign-out still pending from the plan)."""

    queue: QueueName
    at: datetime
    agent: AgentId
    tier: str
    stage: str
    reading: Reading


@dataclass(frozen=True)
class SignOut:
    """Command: sign this agent out. ``after_call``: the agent is on a call; the agent state machine keeps
    the sign-out pending until the call and its wrap-up are over."""

    queue: QueueName
    at: datetime
    agent: AgentId
    stage: str
    after_call: bool
    reading: Reading


@dataclass(frozen=True)
class AgentGone:
    """The plan no longer counts this agent: signed out as asked, or they left by themselves."""

    queue: QueueName
    at: datetime
    agent: AgentId
    stage: str
    why: str


@dataclass(frozen=True)
class Skipped:
    """A stage could not get all the agents it wanted: ``unregistered`` reserve agents of the tier
    (skipped, not counted) and how many it is ``short`` of (``up_to`` minus those signed in)."""

    queue: QueueName
    at: datetime
    stage: str
    tier: str
    unregistered: tuple[AgentId, ...]
    short: int
    reading: Reading


@dataclass(frozen=True)
class Alert:
    """Command: tell the supervisor (the operator's alert command gets ``text`` on stdin)."""

    queue: QueueName
    at: datetime
    stage: str
    agents_needed: int
    agents_serving: int
    seats_needed: int
    text: str
    reading: Reading


@dataclass(frozen=True)
class NightChanged:
    queue: QueueName
    at: datetime
    night: bool
    reading: Reading


@dataclass(frozen=True)
class ModeChanged:
    queue: QueueName
    at: datetime
    mode: Mode
    reason: str


LadderEvent = StageChanged | SignIn | SignOut | AgentGone | Skipped | Alert | NightChanged | ModeChanged

# -- the state -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanEntry:
    """An agent the plan signed in, by which stage (or ``NIGHT``), when. ``sign_out_sent``: only on the
    leaving list, the ``SignOut`` went out and the plan waits for the agent to be signed out."""

    agent: AgentId
    tier: str
    stage: str
    at: datetime
    sign_out_sent: bool = False


@dataclass(frozen=True)
class LadderState:
    """One queue's ladder: ``stage`` index (0 = normal) entered at ``since``; ``signed_in`` in sign-in order;
    ``leaving`` asked to leave, in the order they go. ``up_since`` / ``down_since`` (when the next stage's
    condition / the release condition started holding) are timers, not journaled."""

    queue: QueueName
    ladder: Ladder
    stage: int = 0
    since: datetime | None = None
    mode: Mode = Mode.AUTO
    night: bool = False
    signed_in: tuple[PlanEntry, ...] = ()
    leaving: tuple[PlanEntry, ...] = ()
    up_since: datetime | None = None
    down_since: datetime | None = None

    @property
    def stage_name(self) -> str:
        return self.ladder.stage_name(self.stage)

    def plan_agent_ids(self) -> frozenset[AgentId]:
        """Every agent the plan signed in and has not seen leave: what ``Measurement.plan_agents`` covers."""
        return frozenset(e.agent for e in self.signed_in) | frozenset(e.agent for e in self.leaving)

    def durable(self) -> LadderState:
        """The state without its timers: what ``restore`` gives back from the journal."""
        return replace(self, up_since=None, down_since=None)


def initial_state(queue: QueueName, ladder: Ladder) -> LadderState:
    return LadderState(queue=queue, ladder=ladder)


def with_ladder(state: LadderState, ladder: Ladder) -> LadderState:
    """The state under an edited ladder (queue file reloaded): the stage is kept by name, else clamped."""
    index = ladder.index_of(state.stage_name)
    return replace(state, ladder=ladder, stage=min(state.stage, len(ladder.stages)) if index is None else index)


# -- folding events into the state ---------------------------------------------------------------------------


def _leave(state: LadderState, stages: set[str]) -> LadderState:
    """Move the entries of ``stages`` to the leaving list, last signed in first."""
    going = [e for e in state.signed_in if e.stage in stages]
    return replace(state, signed_in=tuple(e for e in state.signed_in if e.stage not in stages),
                   leaving=state.leaving + tuple(reversed(going)))


def apply(state: LadderState, event: LadderEvent) -> LadderState:
    """The state after ``event``: how ``evaluate`` and ``restore`` both build states."""
    match event:
        case StageChanged(at=at, to_stage=name, to_index=to_index, by_hand=by_hand):
            index = state.ladder.index_of(name)
            new_index = min(to_index, len(state.ladder.stages)) if index is None else index
            released = {state.ladder.stage_name(i) for i in range(new_index + 1, state.stage + 1)}
            if new_index < state.stage:
                state = _leave(state, released)
            return replace(state, stage=new_index, since=at, mode=Mode.MANUAL if by_hand else state.mode)
        case SignIn(agent=agent, tier=tier, stage=stage, at=at):
            leaving = tuple(e for e in state.leaving if e.agent != agent)
            if any(e.agent == agent for e in state.signed_in):
                return replace(state, leaving=leaving)
            return replace(state, leaving=leaving, signed_in=state.signed_in + (PlanEntry(agent, tier, stage, at),))
        case SignOut(agent=agent):
            moved = tuple(replace(e, sign_out_sent=True) for e in state.signed_in if e.agent == agent)
            return replace(state, signed_in=tuple(e for e in state.signed_in if e.agent != agent),
                           leaving=tuple(replace(e, sign_out_sent=True) if e.agent == agent else e
                                         for e in state.leaving) + moved)
        case AgentGone(agent=agent):
            return replace(state, signed_in=tuple(e for e in state.signed_in if e.agent != agent),
                           leaving=tuple(e for e in state.leaving if e.agent != agent))
        case NightChanged(night=night):
            state = replace(state, night=night)
            return state if night else _leave(state, {NIGHT})
        case ModeChanged(mode=mode):
            return replace(state, mode=mode)
        case Skipped() | Alert():
            return state


def restore(queue: QueueName, ladder: Ladder, events: Iterable[LadderEvent]) -> LadderState:
    """The ladder state the journaled ``events`` (oldest first) describe: after a controller restart the
    stage, the mode, night mode and the agents the plan signed in are kept; timers start again."""
    state = initial_state(queue, ladder)
    for event in events:
        if event.queue == queue:
            state = apply(state, event)
    return state.durable()


# -- the policy ----------------------------------------------------------------------------------------------


Step = tuple[LadderState, tuple[LadderEvent, ...]]
"""What every ladder function returns: the new state and the events to journal (and run)."""


class _Run:
    """One evaluation: the state so far and the events emitted, each folded in as it is emitted."""

    def __init__(self, state: LadderState, measurement: Measurement, now: datetime) -> None:
        self.state = state
        self.m = measurement
        self.now = now
        self.events: list[LadderEvent] = []

    @property
    def reading(self) -> Reading:
        return self.m.reading

    def emit(self, event: LadderEvent) -> None:
        self.state = apply(self.state, event)
        self.events.append(event)

    def result(self) -> Step:
        return self.state, tuple(self.events)

    # -- agents

    def forget_gone(self) -> None:
        """Agents the plan counted who are signed out now (as asked, or by themselves)."""
        for entry in self.state.signed_in + self.state.leaving:
            status = self.m.plan_agents.get(entry.agent)
            if status is None or status is AgentState.LOGGED_OUT:
                why = "signed out" if entry.sign_out_sent else "no longer signed in"
                self.emit(AgentGone(self.state.queue, self.now, entry.agent, entry.stage, why))

    def send_sign_outs(self) -> None:
        """Ask leaving agents to sign out, in order; an agent in wrap-up is asked once it is over."""
        for entry in self.state.leaving:
            if entry.sign_out_sent:
                continue
            status = self.m.plan_agents.get(entry.agent)
            if status is AgentState.AFTER_CALL_WORK:
                continue
            self.emit(SignOut(self.state.queue, self.now, entry.agent, entry.stage,
                              after_call=status in BUSY, reading=self.reading))

    def sign_in(self, stage: str, tier: str | None, up_to: int | None, report: bool) -> None:
        """Sign in registered reserves of ``tier`` (None: every tier but inbound), longest idle first.
        Agents the plan is still letting go are taken back first."""
        queue, now = self.state.queue, self.now
        taken = 0
        for entry in self.state.leaving:
            if (tier is None or entry.tier == tier) and (up_to is None or taken < up_to):
                self.emit(SignIn(queue, now, entry.agent, entry.tier, stage, self.reading))
                taken += 1
        in_plan = self.state.plan_agent_ids()
        far = datetime.max.replace(tzinfo=now.tzinfo)
        pool = sorted((r for r in self.m.reserves if (r.tier == tier if tier is not None else r.tier != INBOUND)
                       and r.agent not in in_plan),
                      key=lambda r: (r.idle_since or far, r.agent))
        unregistered: list[AgentId] = []
        for reserve in pool:
            if not reserve.registered:
                unregistered.append(reserve.agent)
            elif up_to is None or taken < up_to:
                self.emit(SignIn(queue, now, reserve.agent, reserve.tier, stage, self.reading))
                taken += 1
        short = 0 if up_to is None else up_to - taken
        if report and (unregistered or short > 0):
            self.emit(Skipped(queue, now, stage, tier or "*", tuple(unregistered), short, self.reading))

    # -- stages

    def enter(self, index: int, reason: str, by_hand: bool) -> None:
        state = self.state
        stage = state.ladder.stages[index - 1]
        self.emit(StageChanged(state.queue, self.now, state.stage_name, stage.name, index, reason, self.reading,
                               by_hand))
        match stage.action:
            case SignInTier(tier=tier, up_to=up_to):
                self.sign_in(stage.name, tier, up_to, report=True)
            case RaiseAlert(target=target, answer_within_s=within):
                self.emit(_alert(self.state.queue, self.now, stage.name, self.reading, target, within))

    def leave(self, index: int, reason: str, by_hand: bool) -> None:
        state = self.state
        self.emit(StageChanged(state.queue, self.now, state.stage_name, state.ladder.stage_name(index - 1),
                               index - 1, reason, self.reading, by_hand))

    def night(self) -> None:
        window = self.state.ladder.night
        inside = window is not None and window.covers(self.now)
        if inside and not self.state.night:
            self.emit(NightChanged(self.state.queue, self.now, True, self.reading))
            self.sign_in(NIGHT, None, None, report=True)
        elif inside:
            self.sign_in(NIGHT, None, None, report=False)  # reserves who registered since
        elif self.state.night:
            self.emit(NightChanged(self.state.queue, self.now, False, self.reading))

    def climb_or_descend(self) -> None:
        state, now, reading = self.state, self.now, self.reading
        ladder = state.ladder
        since = state.since or datetime.min.replace(tzinfo=now.tzinfo)
        if state.stage < len(ladder.stages):
            upcoming = ladder.stages[state.stage:]
            if any(s.condition.holds(reading) for s in upcoming):
                up_since = state.up_since or now
                self.state = replace(self.state, up_since=up_since)
                nxt = upcoming[0]
                if (now - max(up_since, since)).total_seconds() >= nxt.hold_s:
                    held = (now - up_since).total_seconds()
                    self.enter(state.stage + 1, f"{nxt.condition.describe()} held {held:.0f} s", by_hand=False)
                    return
            else:
                self.state = replace(self.state, up_since=None)
        if self.state.stage > 0:
            if reading.waiting <= ladder.release_waiting:
                down_since = self.state.down_since or now
                self.state = replace(self.state, down_since=down_since)
                dwell = (now - max(down_since, since)).total_seconds()
                if dwell >= ladder.release_dwell_s and (now - since).total_seconds() >= ladder.min_stage_s:
                    held = (now - down_since).total_seconds()
                    self.leave(self.state.stage, f"waiting <= {ladder.release_waiting} held {held:.0f} s",
                               by_hand=False)
            else:
                self.state = replace(self.state, down_since=None)


def _alert(queue: QueueName, now: datetime, stage: str, r: Reading, target: float, within: float) -> Alert:
    needed = agents_needed(r.arrivals_per_h, r.aht_s, target, within) if r.aht_s > 0 else 0
    seats = max(0, needed - r.agents_serving)
    if needed:
        need = (f"Erlang C needs {needed} agents for {target:.0%} answered within {within:g} s at "
                f"{r.arrivals_per_h:.0f} calls/h and {r.aht_s:.0f} s handle time; {r.agents_serving} serving: "
                f"{seats} more seat(s) needed (extend shifts / emergency overtime)")
    else:
        need = "no arrival rate or handle time measured yet: seats needed unknown"
    text = f"hotline overflow: queue {queue} still overloaded after every reserve stage ({r.describe()}). {need}."
    return Alert(queue, now, stage, needed, r.agents_serving, seats, text, r)


def evaluate(state: LadderState, measurement: Measurement, now: datetime) -> Step:
    """One step of the ladder at ``now``: the new state and the events to journal (``SignIn``, ``SignOut``
    and ``Alert`` are also commands). At most one stage change per call; call it about once a second."""
    run = _Run(state, measurement, now)
    run.forget_gone()
    if run.state.mode is not Mode.HELD:
        run.night()
        if run.state.mode is Mode.AUTO:
            run.climb_or_descend()
    run.send_sign_outs()
    return run.result()


def evaluate_all(states: Mapping[QueueName, LadderState], measured: Mapping[QueueName, Measurement],
                 now: datetime) -> tuple[dict[QueueName, LadderState], tuple[LadderEvent, ...]]:
    """``evaluate`` for every queue of one tick (``measure_all``'s measurements), in ``states``' order: a
    reserve agent one queue signs in is no longer a reserve for the queues after it in the same tick."""
    taken: set[AgentId] = set()
    new_states: dict[QueueName, LadderState] = {}
    events: list[LadderEvent] = []
    for queue, state in states.items():
        m = measured[queue]
        if taken:
            m = replace(m, reserves=tuple(r for r in m.reserves if r.agent not in taken))
        new_states[queue], step = evaluate(state, m, now)
        taken.update(e.agent for e in step if isinstance(e, SignIn))
        events.extend(step)
    return new_states, tuple(events)


def set_stage(state: LadderState, stage: str | int, measurement: Measurement, now: datetime,
              reason: str = "set by hand") -> Step:
    """Move to ``stage`` (name or index) at once, stage by stage (each signs in or lets go its agents), and
    pin it there until ``release``. ValueError for an unknown stage."""
    target = state.ladder.index_of(stage) if isinstance(stage, str) else stage
    if target is None or not 0 <= target <= len(state.ladder.stages):
        names = ", ".join([NORMAL, *(s.name for s in state.ladder.stages)])
        raise ValueError(f"queue {state.queue} has no stage {stage!r} (stages: {names})")
    run = _Run(state, measurement, now)
    run.forget_gone()
    while run.state.stage < target:
        run.enter(run.state.stage + 1, reason, by_hand=True)
    while run.state.stage > target:
        run.leave(run.state.stage, reason, by_hand=True)
    if run.state.mode is not Mode.MANUAL:
        run.emit(ModeChanged(state.queue, now, Mode.MANUAL, reason))
    run.send_sign_outs()
    return run.result()


def hold(state: LadderState, now: datetime, reason: str = "held by hand") -> Step:
    """Freeze the ladder: no stage or night change until ``release``."""
    if state.mode is Mode.HELD:
        return state, ()
    event = ModeChanged(state.queue, now, Mode.HELD, reason)
    return apply(state, event), (event,)


def release(state: LadderState, now: datetime, reason: str = "released by hand") -> Step:
    """Give the ladder back to its rules (after ``set_stage`` or ``hold``); its timers start again now."""
    if state.mode is Mode.AUTO:
        return state, ()
    event = ModeChanged(state.queue, now, Mode.AUTO, reason)
    return replace(apply(state, event), since=now, up_since=None, down_since=None), (event,)


# -- measuring a queue from the ACD's values -----------------------------------------------------------------

_SIGNED_IN = frozenset(AgentState) - {AgentState.LOGGED_OUT, AgentState.PAUSED}


@dataclass(frozen=True)
class Figures:
    """A queue's figures from the journal, over ``ladder.service_level_window_min``: the share answered within
    the queue's target (None: no calls), calls per hour and average handle time (talk + wrap-up)."""

    service_level: float | None = None
    arrivals_per_h: float = 0
    aht_s: float = 0


def measure_all(states: Mapping[QueueName, LadderState], skills: Mapping[QueueName, frozenset[str]],
                agents: Iterable[Agent], statuses: Mapping[AgentId, AgentStatus], waiting: Iterable[WaitingCaller],
                now: datetime, figures: Mapping[QueueName, Figures] | None = None) -> dict[QueueName, Measurement]:
    """A ``Measurement`` of every queue of ``states`` in one pass over the agents (what the controller calls
    each second): callers on the line (booked callbacks are not waiting) and the longest wait; signed-in,
    registered agents with the queue's ``skills`` (serving) and those free for a call (available); signed-out
    reserve agents (any tier but inbound) with those skills; the states of the agents each plan signed in."""
    names = list(states)
    queues_of: dict[frozenset[str], list[QueueName]] = {}
    counts = {q: [0, 0] for q in names}  # available, serving
    reserves: dict[QueueName, list[ReserveAgent]] = {q: [] for q in names}
    for agent in agents:
        matching = queues_of.get(agent.skills)
        if matching is None:
            matching = queues_of[agent.skills] = [q for q in names if skills.get(q, frozenset()) <= agent.skills]
        if not matching:
            continue
        status = statuses.get(agent.work_number)
        if status is None or status.state is AgentState.LOGGED_OUT:
            if agent.tier != INBOUND:
                reserve = ReserveAgent(agent.work_number, agent.tier, status is not None and status.registered,
                                       status.since if status is not None else None)
                for q in matching:
                    reserves[q].append(reserve)
        elif status.registered and status.state in _SIGNED_IN:
            free = status.state is AgentState.AVAILABLE and not status.has_pending
            for q in matching:
                count = counts[q]
                count[0] += free
                count[1] += 1
    callers = dict.fromkeys(names, 0)
    oldest = dict.fromkeys(names, now)
    for caller in waiting:
        if caller.queue in callers and not caller.callback:
            callers[caller.queue] += 1
            oldest[caller.queue] = min(oldest[caller.queue], caller.enqueued_at)
    measured: dict[QueueName, Measurement] = {}
    for q in names:
        got = (figures or {}).get(q) or Figures()
        reading = Reading(callers[q], max((now - oldest[q]).total_seconds(), 0.0), got.service_level, counts[q][0],
                          counts[q][1], got.arrivals_per_h, got.aht_s)
        plan = {a: statuses[a].state for a in states[q].plan_agent_ids() if a in statuses}
        measured[q] = Measurement(reading, tuple(reserves[q]), plan)
    return measured


def measure(state: LadderState, skills: frozenset[str], agents: Iterable[Agent],
            statuses: Mapping[AgentId, AgentStatus], waiting: Iterable[WaitingCaller], now: datetime, *,
            service_level: float | None = None, arrivals_per_h: float = 0, aht_s: float = 0) -> Measurement:
    """``measure_all`` for one queue."""
    return measure_all({state.queue: state}, {state.queue: skills}, agents, statuses, waiting, now,
                       {state.queue: Figures(service_level, arrivals_per_h, aht_s)})[state.queue]


# -- journal records -----------------------------------------------------------------------------------------

_KINDS: dict[str, type[Any]] = {"stage_changed": StageChanged, "sign_in": SignIn, "sign_out": SignOut,
                                "agent_gone": AgentGone, "skipped": Skipped, "alert": Alert,
                                "night_changed": NightChanged, "mode_changed": ModeChanged}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}


def to_record(event: LadderEvent) -> dict[str, Any]:
    """A JSON-able dict of ``event`` (``kind`` names its type), the journal's ``overflow.<kind>`` row."""
    record: dict[str, Any] = {"kind": _KIND_OF[type(event)]}
    for key, value in asdict(event).items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        record[key] = value
    return record


def from_record(record: Mapping[str, Any]) -> LadderEvent:
    """The event ``to_record`` wrote. KeyError / ValueError on a record that is not one."""
    cls = _KINDS[str(record["kind"])]
    values: dict[str, Any] = {k: v for k, v in record.items() if k != "kind"}
    values["queue"] = QueueName(str(values["queue"]))
    values["at"] = datetime.fromisoformat(str(values["at"]))
    if "reading" in values:
        values["reading"] = Reading(**values["reading"])
    if "agent" in values:
        values["agent"] = AgentId(str(values["agent"]))
    if "unregistered" in values:
        values["unregistered"] = tuple(AgentId(str(a)) for a in values["unregistered"])
    if "mode" in values:
        values["mode"] = Mode(values["mode"])
    event: LadderEvent = cls(**values)
    return event
