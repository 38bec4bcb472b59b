"""The agent state machine: every rule, driven by events and a fake clock, without mocks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from acd.model import AgentId, AgentState, AgentStatus, CallUid
from acd.state import (
    NO_ANSWER,
    AcwPolicy,
    AgentEvent,
    CallFinished,
    EndAfterCallWork,
    HoldEnded,
    HoldStarted,
    OfferAnswered,
    Offered,
    OfferMissed,
    Pause,
    RegistrationBack,
    RegistrationLost,
    Resume,
    SignIn,
    SignOut,
    StateChange,
    Tick,
    Transition,
    next_deadline,
    transition,
)
from tests.unit.fakes import FakeClock

S = AgentState
AGENT = AgentId("1001")
CALL = CallUid("1700000000.1")
OTHER = CallUid("1700000000.2")
POLICY = AcwPolicy(acw_seconds=60, max_missed_offers=2)


class Agent:
    """One agent walked through events; keeps every journaled change."""

    def __init__(self, registered: bool = True) -> None:
        self.clock = FakeClock()
        self.status = AgentStatus.logged_out(AGENT, self.clock.now(), registered=registered)
        self.changes: list[StateChange] = []

    def send(self, *events: AgentEvent) -> Transition:
        result = Transition(self.status)
        for event in events:
            result = transition(self.status, event, self.clock.now(), POLICY)
            assert result.rejected is None, result.rejected
            self.status = result.status
            self.changes.extend(result.changes)
        return result

    def refuse(self, event: AgentEvent) -> str:
        result = transition(self.status, event, self.clock.now(), POLICY)
        assert result.status == self.status and result.changes == ()
        assert result.rejected
        return result.rejected

    def wait(self, seconds: float) -> None:
        self.clock.current += timedelta(seconds=seconds)

    def states(self) -> list[tuple[AgentState, AgentState, str]]:
        return [(c.from_state, c.to_state, c.reason) for c in self.changes]


def on_call() -> Agent:
    agent = Agent()
    agent.send(SignIn(), Offered(CALL), OfferAnswered(CALL))
    return agent


def test_sign_in_makes_available_and_idle_from_now() -> None:
    agent = Agent()
    result = agent.send(SignIn())
    assert agent.status.state is S.AVAILABLE and agent.status.idle_since == agent.clock.now()
    assert result.changes == (StateChange(AGENT, S.LOGGED_OUT, S.AVAILABLE, agent.clock.now(), "sign-in"),)


def test_sign_in_twice_is_a_no_op() -> None:
    agent = Agent()
    agent.send(SignIn())
    before = agent.status
    agent.wait(10)
    assert agent.send(SignIn()) == Transition(before)


def test_a_full_call_goes_ringing_talking_holding_wrapping_up() -> None:
    agent = on_call()
    agent.send(HoldStarted(), HoldEnded(), HoldStarted(), CallFinished(CALL))
    assert agent.status.state is S.AFTER_CALL_WORK and agent.status.call == CALL
    agent.wait(5)
    agent.send(EndAfterCallWork())
    assert agent.status.state is S.AVAILABLE and agent.status.call is None
    assert agent.status.idle_since == agent.clock.now()
    assert agent.states() == [
        (S.LOGGED_OUT, S.AVAILABLE, "sign-in"), (S.AVAILABLE, S.RINGING, "offered"),
        (S.RINGING, S.ON_CALL, "answered"), (S.ON_CALL, S.ON_HOLD, "hold"), (S.ON_HOLD, S.ON_CALL, "hold-ended"),
        (S.ON_CALL, S.ON_HOLD, "hold"), (S.ON_HOLD, S.AFTER_CALL_WORK, "call-finished"),
        (S.AFTER_CALL_WORK, S.AVAILABLE, "acw-ended"),
    ]
    assert all(c.call == CALL for c in agent.changes[1:])


def test_acw_expires_by_tick_with_a_fake_clock() -> None:
    agent = on_call()
    agent.send(CallFinished(CALL))
    ended_at = agent.clock.now()
    assert next_deadline(agent.status, POLICY) == ended_at + timedelta(seconds=60)
    agent.wait(59)
    assert agent.send(Tick()).changes == ()
    assert agent.status.state is S.AFTER_CALL_WORK
    agent.wait(1)
    result = agent.send(Tick())
    assert agent.status.state is S.AVAILABLE and result.changes[0].reason == "acw-expired"
    assert agent.status.idle_since == ended_at + timedelta(seconds=60)
    assert next_deadline(agent.status, POLICY) is None


def test_no_acw_when_the_policy_has_none() -> None:
    agent = on_call()
    result = transition(agent.status, CallFinished(CALL), agent.clock.now(), AcwPolicy(acw_seconds=0))
    assert result.status.state is S.AVAILABLE


def test_tick_outside_acw_changes_nothing() -> None:
    for agent in (Agent(), on_call()):
        agent.wait(3600)
        assert agent.send(Tick()).changes == ()


def test_a_missed_offer_returns_to_available_keeping_the_place_in_line() -> None:
    agent = Agent()
    agent.send(SignIn())
    idle_since = agent.status.idle_since
    agent.wait(15)
    agent.send(Offered(CALL), OfferMissed(CALL))
    assert agent.status.state is S.AVAILABLE and agent.status.missed_offers == 1
    assert agent.status.idle_since == idle_since and agent.status.call is None


def test_consecutive_misses_pause_the_agent_with_no_answer() -> None:
    agent = Agent()
    agent.send(SignIn(), Offered(CALL), OfferMissed(CALL), Offered(OTHER), OfferMissed(OTHER))
    assert agent.status.state is S.PAUSED and agent.status.reason == NO_ANSWER
    assert agent.changes[-1] == StateChange(AGENT, S.RINGING, S.PAUSED, agent.clock.now(), NO_ANSWER, OTHER)
    agent.send(Resume())
    assert agent.status.state is S.AVAILABLE and agent.status.missed_offers == 0 and agent.status.reason is None


def test_an_answer_resets_the_miss_count() -> None:
    agent = Agent()
    agent.send(SignIn(), Offered(CALL), OfferMissed(CALL), Offered(CALL), OfferAnswered(CALL))
    assert agent.status.missed_offers == 0
    agent.send(CallFinished(CALL), EndAfterCallWork(), Offered(OTHER), OfferMissed(OTHER))
    assert agent.status.state is S.AVAILABLE and agent.status.missed_offers == 1


def test_caller_hanging_up_while_ringing_is_not_a_miss() -> None:
    agent = Agent()
    agent.send(SignIn(), Offered(CALL), CallFinished(CALL))
    assert agent.status.state is S.AVAILABLE and agent.status.missed_offers == 0
    assert agent.changes[-1].reason == "caller-gone"


def test_pause_and_resume() -> None:
    agent = Agent()
    agent.send(SignIn(), Pause("lunch"))
    assert (agent.status.state, agent.status.reason) == (S.PAUSED, "lunch")
    agent.send(Pause("meeting"))  # a new reason is journaled, the pause goes on
    assert agent.changes[-1] == StateChange(AGENT, S.PAUSED, S.PAUSED, agent.clock.now(), "meeting")
    agent.wait(600)
    agent.send(Resume())
    assert agent.status.state is S.AVAILABLE and agent.status.idle_since == agent.clock.now()


def test_pause_from_after_call_work_is_immediate() -> None:
    agent = on_call()
    agent.send(CallFinished(CALL), Pause("training"))
    assert (agent.status.state, agent.status.reason, agent.status.call) == (S.PAUSED, "training", None)
    assert next_deadline(agent.status, POLICY) is None


@pytest.mark.parametrize("during", ["ringing", "on_call", "on_hold"])
def test_pause_during_a_call_is_pending_until_the_call_and_wrap_up_end(during: str) -> None:
    agent = Agent()
    agent.send(SignIn(), Offered(CALL))
    if during != "ringing":
        agent.send(OfferAnswered(CALL))
    if during == "on_hold":
        agent.send(HoldStarted())
    agent.send(Pause("lunch"))
    assert agent.status.state is S(during) and agent.status.pending_pause == "lunch"
    assert agent.changes[-1].reason == "pause-pending: lunch"
    if during == "ringing":
        agent.send(OfferMissed(CALL))
    else:
        agent.send(CallFinished(CALL))
        assert agent.status.state is S.AFTER_CALL_WORK  # wrap-up time is still measured as ACW
        agent.wait(60)
        agent.send(Tick())
    assert (agent.status.state, agent.status.reason, agent.status.pending_pause) == (S.PAUSED, "lunch", None)


def test_a_pending_pause_is_cancelled_by_resume() -> None:
    agent = on_call()
    agent.send(Pause("lunch"), Resume())
    assert agent.status.pending_pause is None and agent.changes[-1].reason == "pause-cancelled"
    agent.send(CallFinished(CALL), EndAfterCallWork())
    assert agent.status.state is S.AVAILABLE


@pytest.mark.parametrize("state_events", [[], [Pause("lunch")], [Offered(CALL), OfferAnswered(CALL),
                                                                  CallFinished(CALL)]])
def test_sign_out_from_idle_states_is_immediate(state_events: Sequence[AgentEvent]) -> None:
    agent = Agent()
    agent.send(SignIn(), *state_events, SignOut())
    assert agent.status.state is S.LOGGED_OUT
    assert (agent.status.call, agent.status.idle_since, agent.status.reason) == (None, None, None)


def test_sign_out_during_a_call_is_pending_and_applied_when_wrap_up_ends() -> None:
    agent = on_call()
    agent.send(SignOut(), Pause("lunch"))
    assert agent.status.state is S.ON_CALL and agent.status.pending_sign_out
    agent.send(CallFinished(CALL), EndAfterCallWork())
    assert agent.status.state is S.LOGGED_OUT and not agent.status.has_pending
    assert agent.changes[-1].reason == "acw-ended, then sign-out"


def test_sign_out_while_ringing_applies_on_miss_and_sign_in_cancels_it() -> None:
    agent = Agent()
    agent.send(SignIn(), Offered(CALL), SignOut(), OfferMissed(CALL))
    assert agent.status.state is S.LOGGED_OUT
    agent.send(SignIn(), Offered(CALL), SignOut(), SignIn())
    assert not agent.status.pending_sign_out and agent.changes[-1].reason == "sign-out-cancelled"


def test_sign_out_while_signed_out_is_a_no_op() -> None:
    agent = Agent()
    assert agent.send(SignOut()).changes == ()


def test_registration_loss_is_journaled_and_keeps_the_state() -> None:
    agent = Agent()
    agent.send(SignIn())
    agent.wait(1)
    result = agent.send(RegistrationLost())
    assert agent.status.state is S.AVAILABLE and not agent.status.registered
    assert result.changes == (StateChange(AGENT, S.AVAILABLE, S.AVAILABLE, agent.clock.now(), "registration-lost"),)
    assert agent.status.since < agent.clock.now()  # still available since sign-in
    assert "not registered" in agent.refuse(Offered(CALL))
    assert agent.send(RegistrationLost()).changes == ()
    agent.send(RegistrationBack(), Offered(CALL))
    assert agent.status.state is S.RINGING and agent.changes[-2].reason == "registration-back"


@pytest.mark.parametrize(("events", "event", "words"), [
    ([], Pause("lunch"), "signed out"),
    ([SignIn()], Resume(), "not paused"),
    ([], Offered(CALL), "not available"),
    ([SignIn(), Pause("lunch")], Offered(CALL), "paused"),
    ([SignIn(), Offered(CALL)], Offered(OTHER), "ringing"),
    ([SignIn()], OfferAnswered(CALL), "not ringing"),
    ([SignIn(), Offered(CALL)], OfferAnswered(OTHER), f"ringing for call {CALL}"),
    ([SignIn(), Offered(CALL)], OfferMissed(OTHER), "not " + OTHER),
    ([SignIn()], CallFinished(CALL), "not on call"),
    ([SignIn()], HoldStarted(), "only a call"),
    ([SignIn()], HoldEnded(), "not holding"),
    ([SignIn()], EndAfterCallWork(), "not in after-call work"),
    ([SignIn()], Pause(" "), "needs a reason"),
    ([SignIn(), Offered(CALL), OfferAnswered(CALL), Pause("lunch")], Offered(OTHER), "on a call"),
])
def test_events_out_of_place_are_rejected_with_a_reason(events: Sequence[AgentEvent], event: AgentEvent,
                                                        words: str) -> None:
    agent = Agent()
    agent.send(*events)
    assert words in agent.refuse(event)


def test_no_offer_to_an_agent_about_to_pause_or_sign_out() -> None:
    agent = on_call()
    agent.send(Pause("lunch"), CallFinished(CALL))
    assert agent.status.pending_pause == "lunch"  # kept through wrap-up, which takes no new call
    assert "not available" in agent.refuse(Offered(OTHER))
    for pending in (replace(agent.status, state=S.AVAILABLE), replace(agent.status, state=S.AVAILABLE,
                                                                       pending_pause=None, pending_sign_out=True)):
        agent.status = pending
        assert "about to pause or sign out" in agent.refuse(Offered(OTHER))


def test_repeated_hold_events_are_no_ops() -> None:
    agent = on_call()
    assert agent.send(HoldEnded()).changes == ()
    agent.send(HoldStarted())
    assert agent.send(HoldStarted()).changes == ()


@pytest.mark.parametrize("state", list(AgentState))
def test_every_state_has_an_exit(state: AgentState) -> None:
    """From each state some event sequence leads back to logged_out: an agent can never get stuck."""
    agent = Agent()
    route: dict[AgentState, list[AgentEvent]] = {
        S.LOGGED_OUT: [], S.AVAILABLE: [SignIn()], S.PAUSED: [SignIn(), Pause("x")],
        S.RINGING: [SignIn(), Offered(CALL)], S.ON_CALL: [SignIn(), Offered(CALL), OfferAnswered(CALL)],
        S.ON_HOLD: [SignIn(), Offered(CALL), OfferAnswered(CALL), HoldStarted()],
        S.AFTER_CALL_WORK: [SignIn(), Offered(CALL), OfferAnswered(CALL), CallFinished(CALL)],
    }
    agent.send(*route[state])
    assert agent.status.state is state
    agent.send(SignOut())
    if agent.status.state is not S.LOGGED_OUT:  # in a call: the call's end applies the sign-out
        agent.send(CallFinished(CALL))
        agent.wait(POLICY.acw_seconds)
        agent.send(Tick())
    assert agent.status.state is S.LOGGED_OUT
