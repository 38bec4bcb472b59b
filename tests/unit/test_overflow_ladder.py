"""The overflow ladder on a fake clock: thresholds and hold times, heavier surges, hysteresis and reverse
sign-out never mid-call, unregistered reserve agents, hand override, hold, night mode, restart."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest

from acd.erlang import agents_needed, service_level, wait_probability
from acd.model import Agent, AgentId, AgentState, AgentStatus, CallUid, QueueName
from acd.overflow import (
    AgentGone,
    Alert,
    Condition,
    Ladder,
    LadderEvent,
    LadderState,
    Measurement,
    Mode,
    NightChanged,
    NightWindow,
    RaiseAlert,
    Reading,
    ReserveAgent,
    SignIn,
    SignInTier,
    SignOut,
    Skipped,
    Stage,
    StageChanged,
    evaluate,
    evaluate_all,
    from_record,
    hold,
    initial_state,
    measure,
    release,
    restore,
    set_stage,
    to_record,
)
from acd.routing import WaitingCaller

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
Q = QueueName("general")
BAND = Condition(waiting_above=5, waiting_at_most=10)
HEAVY = Condition(waiting_above=10)
LADDER = Ladder(stages=(
    Stage("expert", BAND, 300, SignInTier("expert")),
    Stage("outbound", BAND, 300, SignInTier("outbound", 3)),
    Stage("qc", BAND, 300, SignInTier("qc", 3)),
    Stage("backoffice", HEAVY, 300, SignInTier("backoffice", 3)),
    Stage("alert", HEAVY, 300, RaiseAlert()),
))


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def reserve(agent: str, tier: str, idle_s: float = 0, registered: bool = True) -> ReserveAgent:
    return ReserveAgent(AgentId(agent), tier, registered, T0 - timedelta(seconds=idle_s))


RESERVES = (
    reserve("2001", "expert", 100), reserve("2002", "expert", 900),
    reserve("3001", "outbound", 50), reserve("3002", "outbound", 500), reserve("3003", "outbound", 400),
    reserve("3004", "outbound", 10),
    reserve("4001", "qc", 10), reserve("4002", "qc", 20),
    reserve("5001", "backoffice", 10), reserve("5002", "backoffice", 20), reserve("5003", "backoffice", 30),
)


class Floor:
    """The controller around the ladder, faked: applies SignIn/SignOut to agents' states the way the agent
    state machine does (a sign-out during a call waits for the call and its wrap-up)."""

    def __init__(self, ladder: Ladder = LADDER, reserves: tuple[ReserveAgent, ...] = RESERVES) -> None:
        self.state = initial_state(Q, ladder)
        self.reserves = {r.agent: r for r in reserves}
        self.states: dict[AgentId, AgentState] = {}
        self.pending_out: set[AgentId] = set()
        self.journal: list[LadderEvent] = []

    def measurement(self, waiting: int, **figures: float) -> Measurement:
        free = tuple(r for a, r in self.reserves.items() if self.states.get(a, AgentState.LOGGED_OUT)
                     is AgentState.LOGGED_OUT)
        plan = {a: self.states.get(a, AgentState.LOGGED_OUT) for a in self.state.plan_agent_ids()}
        return Measurement(Reading(waiting, **figures), free, plan)  # type: ignore[arg-type]

    def run(self, events: tuple[LadderEvent, ...]) -> list[LadderEvent]:
        for event in events:
            match event:
                case SignIn(agent=agent):
                    self.pending_out.discard(agent)
                    if self.states.get(agent, AgentState.LOGGED_OUT) is AgentState.LOGGED_OUT:
                        self.states[agent] = AgentState.AVAILABLE
                case SignOut(agent=agent, after_call=after_call):
                    if after_call:
                        self.pending_out.add(agent)
                    else:
                        self.states[agent] = AgentState.LOGGED_OUT
        self.journal.extend(events)
        return list(events)

    def tick(self, seconds: float, waiting: int, **figures: float) -> list[LadderEvent]:
        self.state, events = evaluate(self.state, self.measurement(waiting, **figures), at(seconds))
        return self.run(events)

    def span(self, start: int, end: int, waiting: int, step: int = 1) -> list[LadderEvent]:
        """Evaluate every ``step`` s over [start, end)."""
        out: list[LadderEvent] = []
        for second in range(start, end, step):
            out += self.tick(second, waiting)
        return out

    def call_ends(self, agent: str, state: AgentState = AgentState.AVAILABLE) -> None:
        """The agent's call (or wrap-up) ends: a pending sign-out applies after the wrap-up."""
        a = AgentId(agent)
        if a in self.pending_out and state is AgentState.AVAILABLE:
            self.pending_out.discard(a)
            state = AgentState.LOGGED_OUT
        self.states[a] = state


def kinds(events: list[LadderEvent]) -> list[str]:
    out = []
    for e in events:
        match e:
            case StageChanged(from_stage=f, to_stage=t):
                out.append(f"stage {f}->{t}")
            case SignIn(agent=a):
                out.append(f"in {a}")
            case SignOut(agent=a, after_call=after):
                out.append(f"out {a}{' after call' if after else ''}")
            case AgentGone(agent=a, why=why):
                out.append(f"gone {a} ({why})")
            case Skipped(unregistered=u, short=short):
                out.append(f"skipped {','.join(u)} short {short}")
            case Alert(seats_needed=n):
                out.append(f"alert {n}")
            case NightChanged(night=n):
                out.append(f"night {'on' if n else 'off'}")
            case _:
                out.append(type(e).__name__)
    return out


def test_stages_fire_after_their_hold_time_in_order_longest_idle_first() -> None:
    floor = Floor()
    assert floor.span(0, 300, 6, step=10) == []
    assert kinds(floor.tick(300, 6)) == ["stage normal->expert", "in 2002", "in 2001"]
    assert floor.span(301, 600, 7, step=10) == []
    # 3 of the 4 outbound agents, the longest idle first; 3004 (idle 10 s) stays out.
    assert kinds(floor.tick(600, 8)) == ["stage expert->outbound", "in 3002", "in 3003", "in 3001"]
    assert kinds(floor.tick(900, 9)) == ["stage outbound->qc", "in 4002", "in 4001", "skipped  short 1"]
    assert floor.state.stage_name == "qc"
    assert [e.agent for e in floor.state.signed_in] == ["2002", "2001", "3002", "3003", "3001", "4002", "4001"]
    # Every event carries the reading that triggered it.
    changes = [e for e in floor.journal if isinstance(e, StageChanged)]
    assert [c.reading.waiting for c in changes] == [6, 8, 9]
    assert changes[0].reason == "5 < waiting <= 10 held 300 s"


def test_a_broken_condition_restarts_the_hold_time() -> None:
    floor = Floor()
    floor.span(0, 200, 6, step=10)
    assert floor.tick(200, 5) == []  # back in the normal band: the clock starts again
    floor.span(201, 501, 6, step=10)
    assert floor.state.stage == 0
    assert kinds(floor.tick(501, 6))[0] == "stage normal->expert"


def test_a_heavier_surge_climbs_every_stage_in_order_then_alerts_with_the_seats_needed() -> None:
    floor = Floor()
    fired = []
    for second in range(0, 1600, 5):
        for e in floor.tick(second, 15, arrivals_per_h=600, aht_s=300, agents_serving=20):
            if isinstance(e, StageChanged):
                fired.append((second, e.to_stage))
    assert fired == [(300, "expert"), (600, "outbound"), (900, "qc"), (1200, "backoffice"), (1500, "alert")]
    alert = next(e for e in floor.journal if isinstance(e, Alert))
    assert alert.agents_needed == agents_needed(600, 300) == 57 and alert.seats_needed == 37
    assert "37 more seat(s) needed" in alert.text and "waiting 15" in alert.text
    # Nothing after the last stage, however long the surge lasts.
    assert floor.span(1600, 2000, 15, step=50) == []


def test_release_steps_down_after_the_dwell_in_reverse_order_of_sign_in() -> None:
    floor = Floor()
    floor.span(0, 901, 8, step=1)
    assert floor.state.stage_name == "qc"
    # Short line: not before the dwell (300 s) has passed.
    assert floor.span(901, 1201, 3, step=10) == []
    assert kinds(floor.tick(1201, 3)) == ["stage qc->outbound", "out 4001", "out 4002"]
    assert kinds(floor.tick(1202, 3)) == ["gone 4001 (signed out)", "gone 4002 (signed out)"]
    # The line grows again for a moment: the release clock starts over.
    floor.tick(1300, 6)
    assert floor.span(1301, 1601, 4, step=10) == []
    assert kinds(floor.tick(1601, 4)) == ["stage outbound->expert", "out 3001", "out 3003", "out 3002"]
    floor.tick(1602, 4)
    assert kinds(floor.tick(1902, 0)) == ["stage expert->normal", "out 2001", "out 2002"]
    floor.tick(1903, 0)
    assert floor.state.signed_in == floor.state.leaving == () and floor.state.stage == 0


def test_a_stage_stays_at_least_its_minimum_dwell() -> None:
    ladder = replace(LADDER, release_dwell_s=30, min_stage_s=600)
    floor = Floor(ladder)
    floor.span(0, 301, 6)
    assert floor.state.stage_name == "expert"
    assert floor.span(301, 900, 0, step=10) == []  # short line for 600 s, but the stage is only 599 s old
    assert kinds(floor.tick(900, 0))[0] == "stage expert->normal"


def test_never_mid_call_nor_mid_wrap_up() -> None:
    floor = Floor()
    floor.span(0, 301, 6)
    floor.states[AgentId("2001")] = AgentState.ON_CALL
    floor.states[AgentId("2002")] = AgentState.AFTER_CALL_WORK
    assert floor.span(301, 601, 0, step=10) == []
    assert kinds(floor.tick(601, 0)) == ["stage expert->normal", "out 2001 after call"]
    # 2002 is wrapping up: asked only once it is over; 2001's sign-out waits in the agent's state machine.
    assert floor.span(602, 700, 0, step=10) == []
    floor.call_ends("2002")
    assert kinds(floor.tick(700, 0)) == ["out 2002"]
    assert kinds(floor.tick(701, 0)) == ["gone 2002 (signed out)"]
    floor.call_ends("2001", AgentState.AFTER_CALL_WORK)
    assert floor.tick(702, 0) == []
    floor.call_ends("2001")
    assert kinds(floor.tick(760, 0)) == ["gone 2001 (signed out)"]
    assert floor.state.plan_agent_ids() == frozenset()


def test_an_agent_still_leaving_is_taken_back_when_the_stage_fires_again() -> None:
    floor = Floor(replace(LADDER, release_dwell_s=10, min_stage_s=10))
    floor.span(0, 301, 6)
    floor.states[AgentId("2001")] = AgentState.ON_CALL
    floor.span(301, 320, 0)
    assert floor.state.stage == 0 and [e.agent for e in floor.state.leaving] == ["2001"]
    events = floor.span(320, 621, 7)
    assert kinds(events)[:3] == ["stage normal->expert", "in 2001", "in 2002"]
    assert floor.pending_out == set()


def test_unregistered_reserve_agents_are_skipped_reported_and_never_counted() -> None:
    reserves = (reserve("2001", "expert", 100, registered=False), reserve("2002", "expert", 50),
                reserve("3001", "outbound", 900, registered=False), reserve("3002", "outbound", 10))
    floor = Floor(reserves=reserves)
    assert kinds(floor.span(0, 301, 6)) == ["stage normal->expert", "in 2002", "skipped 2001 short 0"]
    assert kinds(floor.span(301, 601, 6)) == ["stage expert->outbound", "in 3002", "skipped 3001 short 2"]
    assert floor.state.plan_agent_ids() == {"2002", "3002"}


def test_an_agent_who_signs_out_alone_is_no_longer_counted() -> None:
    floor = Floor()
    floor.span(0, 301, 6)
    floor.states[AgentId("2001")] = AgentState.LOGGED_OUT
    assert kinds(floor.tick(302, 6)) == ["gone 2001 (no longer signed in)"]
    assert [e.agent for e in floor.state.signed_in] == ["2002"]


def test_a_stage_set_by_hand_is_left_only_by_hand() -> None:
    floor = Floor()
    floor.state, events = set_stage(floor.state, "qc", floor.measurement(2), at(0))
    floor.run(events)
    assert [e.to_stage for e in events if isinstance(e, StageChanged)] == ["expert", "outbound", "qc"]
    assert all(e.by_hand for e in events if isinstance(e, StageChanged)) and floor.state.mode is Mode.MANUAL
    assert floor.span(1, 3000, 0, step=60) == []  # a short line does not undo it
    floor.state, events = release(floor.state, at(3000))
    assert floor.state.mode is Mode.AUTO
    assert floor.span(3000, 3300, 0, step=10) == []
    assert kinds(floor.tick(3300, 0))[0] == "stage qc->outbound"
    with pytest.raises(ValueError, match="no stage 'boss'"):
        set_stage(floor.state, "boss", floor.measurement(0), at(3301))
    floor.state, events = set_stage(floor.state, "normal", floor.measurement(0), at(3301))
    assert [e.to_stage for e in events if isinstance(e, StageChanged)] == ["expert", "normal"]


def test_hold_freezes_the_ladder_until_released() -> None:
    floor = Floor()
    floor.state, events = hold(floor.state, at(0))
    assert floor.state.mode is Mode.HELD and hold(floor.state, at(1))[1] == ()
    assert floor.span(0, 2000, 20, step=20) == []
    floor.state, _ = release(floor.state, at(2000))
    assert floor.span(2000, 2300, 20, step=10) == []
    assert kinds(floor.tick(2300, 20))[0] == "stage normal->expert"


def test_night_mode_signs_in_every_registered_reserve_and_lets_them_go_in_the_morning() -> None:
    reserves = (reserve("2001", "expert", 100), reserve("3001", "outbound", 300),
                reserve("4001", "qc", 10, registered=False), reserve("1001", "inbound", 999))
    ladder = replace(LADDER, night=NightWindow(time(22, 0), time(8, 0)))
    floor = Floor(ladder, reserves)
    evening = datetime(2026, 11, 23, 21, 59, 59, tzinfo=UTC)
    floor.state, events = evaluate(floor.state, floor.measurement(0), evening)
    assert events == ()
    floor.state, events = evaluate(floor.state, floor.measurement(0), evening + timedelta(seconds=1))
    floor.run(events)
    assert kinds(list(events)) == ["night on", "in 3001", "in 2001", "skipped 4001 short 0"]
    # A reserve agent who registers during the night joins too, without a new report.
    floor.reserves[AgentId("4001")] = reserve("4001", "qc", 10)
    floor.state, events = evaluate(floor.state, floor.measurement(0), evening + timedelta(hours=3))
    assert kinds(list(events)) == ["in 4001"]
    floor.run(events)
    floor.states[AgentId("2001")] = AgentState.ON_CALL
    morning = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    floor.state, events = evaluate(floor.state, floor.measurement(0), morning)
    assert kinds(list(events)) == ["night off", "out 4001", "out 2001 after call", "out 3001"]
    assert NightWindow(time(9, 0), time(17, 0)).covers(datetime(2026, 1, 1, 12, 0)) is True
    assert str(ladder.night) == "22:00-08:00"


def test_restart_restores_stage_mode_and_who_the_plan_signed_in_from_the_journal() -> None:
    floor = Floor()
    floor.span(0, 901, 8)
    floor.states[AgentId("3001")] = AgentState.ON_CALL
    floor.span(901, 1202, 3)
    assert floor.state.stage_name == "outbound"
    records = json.loads(json.dumps([to_record(e) for e in floor.journal]))
    restored = restore(Q, LADDER, [from_record(r) for r in records])
    assert restored == floor.state.durable()
    assert restored.stage_name == "outbound" and "3001" in restored.plan_agent_ids()
    # Events of other queues are ignored; a hand-set stage survives as such.
    manual, events = set_stage(floor.state, "backoffice", floor.measurement(3), at(1300))
    change = next(e for e in events if isinstance(e, StageChanged))
    again = restore(Q, LADDER, [*floor.journal, *events, replace(change, queue=QueueName("vip"), to_index=0)])
    assert again == manual.durable() and again.mode is Mode.MANUAL


def test_measure_reads_the_acd_values() -> None:
    def agent(number: str, tier: str, skills: tuple[str, ...] = ("general",)) -> Agent:
        return Agent(AgentId(number), number, frozenset(skills), tier)

    def status(number: str, state: AgentState, registered: bool = True, **kw: object) -> AgentStatus:
        return AgentStatus(AgentId(number), state, T0 - timedelta(seconds=60), registered=registered,
                           **kw)  # type: ignore[arg-type]

    agents = [agent("1001", "inbound"), agent("1002", "inbound"), agent("2001", "expert"),
              agent("2002", "expert"), agent("2003", "expert", ("vip",)), agent("3001", "outbound")]
    statuses: Mapping[AgentId, AgentStatus] = {
        AgentId("1001"): status("1001", AgentState.AVAILABLE),
        AgentId("1002"): status("1002", AgentState.ON_CALL, call=CallUid("c9")),
        AgentId("2001"): status("2001", AgentState.LOGGED_OUT),
        AgentId("2002"): status("2002", AgentState.LOGGED_OUT, registered=False),
        AgentId("3001"): status("3001", AgentState.AFTER_CALL_WORK),
    }
    waiting = [WaitingCaller(CallUid("a"), Q, 0, T0 - timedelta(seconds=90), "138"),
               WaitingCaller(CallUid("b"), Q, 0, T0 - timedelta(seconds=10), "139"),
               WaitingCaller(CallUid("c"), Q, 0, T0 - timedelta(seconds=500), "137", callback=True),
               WaitingCaller(CallUid("d"), QueueName("vip"), 0, T0 - timedelta(seconds=900), "136")]
    one_reserve = Measurement(Reading(0), (reserve("3001", "outbound"),))
    state, _ = set_stage(initial_state(Q, LADDER), "outbound", one_reserve, at(0))
    m = measure(state, frozenset({"general"}), agents, statuses, waiting, T0, service_level=0.75,
                arrivals_per_h=300, aht_s=280)
    assert m.reading == Reading(2, 90, 0.75, 1, 3, 300, 280)
    assert m.reserves == (ReserveAgent(AgentId("2001"), "expert", True, T0 - timedelta(seconds=60)),
                          ReserveAgent(AgentId("2002"), "expert", False, T0 - timedelta(seconds=60)))
    assert m.plan_agents == {"3001": AgentState.AFTER_CALL_WORK}


def test_erlang_c_matches_the_textbook_example() -> None:
    # 200 calls/h of 180 s = 10 erlangs: 14 agents answer 88.8 % within 20 s, 13 only 79.6 %.
    assert round(wait_probability(14, 10), 3) == 0.174
    assert round(service_level(14, 200, 180, 20), 3) == 0.888 and service_level(13, 200, 180, 20) < 0.8
    assert agents_needed(200, 180) == 14 and agents_needed(0, 300) == 0
    with pytest.raises(ValueError):
        agents_needed(100, 0)


def test_state_helpers() -> None:
    state = initial_state(Q, LADDER)
    assert isinstance(state, LadderState) and state.stage_name == "normal" and LADDER.index_of("qc") == 3
    assert Condition(service_level_below=0.8).holds(Reading(0, service_level=None)) is False
    assert Condition(longest_wait_s=60, available_at_most=0).describe() == \
        "longest wait >= 60 s and agents available <= 0"


def test_one_tick_for_every_queue_never_gives_a_reserve_agent_to_two_queues() -> None:
    queues = [QueueName("general"), QueueName("vip")]
    states = {q: initial_state(q, LADDER) for q in queues}
    shared = (reserve("2001", "expert", 100), reserve("2002", "expert", 50))
    measured = {q: Measurement(Reading(8), shared) for q in queues}
    for second in range(0, 301, 10):
        states, events = evaluate_all(states, measured, at(second))
    ins = [(e.queue, e.agent) for e in events if isinstance(e, SignIn)]
    assert ins == [("general", "2001"), ("general", "2002")]
    assert states[QueueName("vip")].stage_name == "expert" and states[QueueName("vip")].signed_in == ()
    skipped = [e for e in events if isinstance(e, Skipped)]
    assert skipped == []  # up_to "all": nobody left is not a shortfall
