"""The agent state machine, pure: ``transition(status, event, now, policy) -> Transition``.

The controller service feeds it agent requests (sign in, pause, ...), call events (offered, answered,
missed, finished, hold) and SIP registration changes, journals the returned ``StateChange`` values and
runs whatever the new state implies through its ports. Time only enters through ``now``; ``Tick`` is how
the service says "time passed" (it schedules one at ``next_deadline``), so tests drive a fake time.

States and exits (every state has one, so an agent never gets stuck)::

    logged_out ──SignIn──► available ──Offered──► ringing ──OfferAnswered──► on_call ◄─HoldEnded/Started─► on_hold
        ▲                   │  ▲  ▲                 │ OfferMissed / caller gone            │ CallFinished
        │ SignOut           │  │  └─────────────────┘ (N misses in a row → paused)       ▼
        └───────────────────┤  └──── EndAfterCallWork / Tick past acw_seconds ◄──── after_call_work
                            └─Pause─► paused ─Resume─► available

A pause or sign-out asked for while ringing or on a call is kept as *pending* and applied at the moment
the agent would become available again: after the missed/abandoned offer, or at the end of after-call
work, so wrap-up time is still measured as ACW. Out-of-place events are rejected with a reason a person
can read; repeated ones (sign in twice, a second hold) are no-ops.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from acd.model import AgentId, AgentState, AgentStatus, CallUid

S = AgentState

# -- events --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    pass


@dataclass(frozen=True)
class SignOut:
    pass


@dataclass(frozen=True)
class Pause:
    reason: str


@dataclass(frozen=True)
class Resume:
    pass


@dataclass(frozen=True)
class Offered:
    call: CallUid


@dataclass(frozen=True)
class OfferAnswered:
    call: CallUid


@dataclass(frozen=True)
class OfferMissed:
    """The agent's phone rang out (``ring_timeout_s``) or the agent rejected the call."""

    call: CallUid


@dataclass(frozen=True)
class CallFinished:
    """The call ended: after a conversation, or while ringing because the caller hung up first.
    ``wrap_up=False``: nothing to wrap up (the agent handed the caller to a script, or a callback's customer
    did not answer): the agent is free at once, journaled with ``reason``."""

    call: CallUid
    wrap_up: bool = True
    reason: str = "handed-to-script"


@dataclass(frozen=True)
class HoldStarted:
    pass


@dataclass(frozen=True)
class HoldEnded:
    pass


@dataclass(frozen=True)
class EndAfterCallWork:
    pass


@dataclass(frozen=True)
class Tick:
    """Time passed; ends after-call work once ``acw_seconds`` are over."""


@dataclass(frozen=True)
class RegistrationLost:
    pass


@dataclass(frozen=True)
class RegistrationBack:
    pass


AgentEvent = (
    SignIn | SignOut | Pause | Resume | Offered | OfferAnswered | OfferMissed | CallFinished | HoldStarted
    | HoldEnded | EndAfterCallWork | Tick | RegistrationLost | RegistrationBack
)

# -- results -------------------------------------------------------------------------------------------------

NO_ANSWER = "no-answer"
"""Pause reason given when an agent leaves ``max_missed_offers`` offers in a row unanswered."""


@dataclass(frozen=True)
class AcwPolicy:
    """``acw_seconds``: after-call work ends by itself after this long (0: no ACW at all);
    ``max_missed_offers``: consecutive unanswered offers before the agent is paused with "no-answer"
    (0: never pause automatically)."""

    acw_seconds: float = 60
    max_missed_offers: int = 2


@dataclass(frozen=True)
class StateChange:
    """One line of the agent journal. ``from_state == to_state`` for changes that keep the state:
    registration lost/back, a pause or sign-out becoming pending or cancelled, a new pause reason."""

    agent: AgentId
    from_state: AgentState
    to_state: AgentState
    at: datetime
    reason: str
    call: CallUid | None = None


@dataclass(frozen=True)
class Transition:
    """The new status and what to journal; ``rejected`` (status unchanged, no changes) says why not."""

    status: AgentStatus
    changes: tuple[StateChange, ...] = ()
    rejected: str | None = None


# -- the machine ---------------------------------------------------------------------------------------------


def transition(status: AgentStatus, event: AgentEvent, now: datetime, policy: AcwPolicy | None = None) -> Transition:
    """Apply ``event`` at ``now`` to ``status``. Never raises for a domain reason: see ``Transition.rejected``."""
    policy = policy or AcwPolicy()
    state = status.state
    match event:
        case SignIn():
            if state is not S.LOGGED_OUT:
                # Signing in again while a sign-out waits for the call to end means "stay".
                return _note(status, now, "sign-out-cancelled", pending_sign_out=False) \
                    if status.pending_sign_out else _same(status)
            return _move(status, S.AVAILABLE, now, "sign-in", idle_since=now, missed_offers=0)
        case SignOut():
            if state is S.LOGGED_OUT:
                return _same(status)
            if state in (S.RINGING, S.ON_CALL, S.ON_HOLD):
                return _same(status) if status.pending_sign_out else \
                    _note(status, now, "sign-out-pending", pending_sign_out=True)
            return _sign_out(status, now, "sign-out")
        case Pause(reason=reason):
            return _pause(status, reason, now)
        case Resume():
            if state is S.PAUSED and status.pending_sign_out:
                # Signed out during a call, paused during its wrap-up: coming back means signing out.
                return _sign_out(status, now, "resume, then sign-out")
            if state is S.PAUSED:
                return _move(status, S.AVAILABLE, now, "resume", idle_since=now, missed_offers=0)
            if status.pending_pause is not None:
                return _note(status, now, "pause-cancelled", pending_pause=None)
            return _reject(status, f"agent is {_words(state)}, not paused: nothing to resume")
        case Offered(call=call):
            return _offer(status, call, now)
        case OfferAnswered(call=call):
            if state is not S.RINGING or status.call != call:
                return _reject(status, _not_ringing_for(status, call, "answer"))
            return _move(status, S.ON_CALL, now, "answered", missed_offers=0)
        case OfferMissed(call=call):
            if state is not S.RINGING or status.call != call:
                return _reject(status, _not_ringing_for(status, call, "miss"))
            missed = status.missed_offers + 1
            if 0 < policy.max_missed_offers <= missed and not status.has_pending:
                return _move(status, S.PAUSED, now, NO_ANSWER, call=None, missed_offers=missed, pause=NO_ANSWER)
            return _release(replace(status, missed_offers=missed), now, "missed", idle=False)
        case CallFinished(call=call, wrap_up=wrap_up, reason=reason):
            if status.call != call or state not in (S.RINGING, S.ON_CALL, S.ON_HOLD):
                return _reject(status, f"agent is {_words(state)}, not on call {call}")
            if state is S.RINGING:
                # The caller hung up before the agent answered: not the agent's miss, no wrap-up to do.
                return _release(status, now, "caller-gone", idle=False)
            if not wrap_up:
                return _release(status, now, reason, idle=True)
            if policy.acw_seconds <= 0:
                return _release(status, now, "call-finished", idle=True)
            return _move(status, S.AFTER_CALL_WORK, now, "call-finished")
        case HoldStarted():
            if state is S.ON_HOLD:
                return _same(status)
            if state is not S.ON_CALL:
                return _reject(status, f"agent is {_words(state)}: only a call can be put on hold")
            return _move(status, S.ON_HOLD, now, "hold")
        case HoldEnded():
            if state is S.ON_CALL:
                return _same(status)
            if state is not S.ON_HOLD:
                return _reject(status, f"agent is {_words(state)}, not holding a call")
            return _move(status, S.ON_CALL, now, "hold-ended")
        case EndAfterCallWork():
            if state is not S.AFTER_CALL_WORK:
                return _reject(status, f"agent is {_words(state)}, not in after-call work")
            return _release(status, now, "acw-ended", idle=True)
        case Tick():
            deadline = next_deadline(status, policy)
            if deadline is None or now < deadline:
                return _same(status)
            return _release(status, now, "acw-expired", idle=True)
        case RegistrationLost():
            # The state stays: a call in progress may survive a re-registration; routing skips the agent.
            return _note(status, now, "registration-lost", registered=False) if status.registered else _same(status)
        case RegistrationBack():
            return _same(status) if status.registered else _note(status, now, "registration-back", registered=True)


def next_deadline(status: AgentStatus, policy: AcwPolicy | None = None) -> datetime | None:
    """When a ``Tick`` would change this status (the end of after-call work), else None."""
    policy = policy or AcwPolicy()
    if status.state is S.AFTER_CALL_WORK:
        return status.since + timedelta(seconds=max(policy.acw_seconds, 0))
    return None


# -- helpers -------------------------------------------------------------------------------------------------


def _pause(status: AgentStatus, reason: str, now: datetime) -> Transition:
    state = status.state
    if not reason.strip():
        return _reject(status, "a pause needs a reason")
    if state is S.LOGGED_OUT:
        return _reject(status, "agent is signed out: sign in before pausing")
    if state in (S.RINGING, S.ON_CALL, S.ON_HOLD):
        if status.pending_pause == reason:
            return _same(status)
        return _note(status, now, f"pause-pending: {reason}", pending_pause=reason)
    if state is S.PAUSED:
        return _same(status) if status.reason == reason else _note(status, now, reason, pause=reason)
    return _move(status, S.PAUSED, now, reason, pause=reason, call=None, pending_pause=None)


def _offer(status: AgentStatus, call: CallUid, now: datetime) -> Transition:
    if status.state is not S.AVAILABLE:
        return _reject(status, f"agent is {_words(status.state)}, not available: cannot offer call {call}")
    if not status.registered:
        return _reject(status, "agent's softphone is not registered: cannot offer a call")
    if status.has_pending:
        return _reject(status, "agent is about to pause or sign out: cannot offer a call")
    return _move(status, S.RINGING, now, "offered", call=call)


def _release(status: AgentStatus, now: datetime, reason: str, idle: bool) -> Transition:
    """The agent is done with a call: apply a pending sign-out or pause, else make them available.

    ``idle`` restarts the longest-idle clock (the agent worked); after a missed or abandoned offer
    the agent keeps its place in line.
    """
    if status.pending_sign_out:
        return _sign_out(status, now, f"{reason}, then sign-out")
    if status.pending_pause is not None:
        pause = status.pending_pause
        return _move(status, S.PAUSED, now, pause, pause=pause, call=None, pending_pause=None)
    idle_since = now if idle or status.idle_since is None else status.idle_since
    return _move(status, S.AVAILABLE, now, reason, call=None, idle_since=idle_since)


def _sign_out(status: AgentStatus, now: datetime, reason: str) -> Transition:
    return _move(status, S.LOGGED_OUT, now, reason, idle_since=None, missed_offers=0, call=None,
                 pending_pause=None, pending_sign_out=False)


def _move(status: AgentStatus, to: AgentState, now: datetime, why: str, pause: str | None = None,
          **fields: Any) -> Transition:
    """Enter state ``to``; ``why`` is journaled, ``pause`` is the status reason (only kept while paused)."""
    new = replace(status, state=to, since=now, reason=pause, **fields)
    return Transition(new, (StateChange(status.agent, status.state, to, now, why, status.call or new.call),))


def _note(status: AgentStatus, now: datetime, why: str, pause: str | None = None, **fields: Any) -> Transition:
    """A change that keeps the state (and its ``since``), journaled all the same."""
    new = replace(status, reason=pause or status.reason, **fields)
    return Transition(new, (StateChange(status.agent, status.state, status.state, now, why, status.call),))


def _same(status: AgentStatus) -> Transition:
    return Transition(status)


def _reject(status: AgentStatus, why: str) -> Transition:
    return Transition(status, rejected=why)


def _not_ringing_for(status: AgentStatus, call: CallUid, verb: str) -> str:
    if status.state is S.RINGING:
        return f"agent is ringing for call {status.call}, not {call}: cannot {verb} it"
    return f"agent is {_words(status.state)}, not ringing: cannot {verb} call {call}"


def _words(state: AgentState) -> str:
    return {S.LOGGED_OUT: "signed out", S.AFTER_CALL_WORK: "in after-call work", S.ON_CALL: "on a call",
            S.ON_HOLD: "holding a call"}.get(state, state.value.replace("_", " "))
