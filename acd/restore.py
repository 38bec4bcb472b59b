"""Which state an agent comes back in after a controller restart, pure: ``restored_state(rows)``.

The agent desk (engine side) reads one agent's ``agent_events`` rows, oldest first, and the queue service
takes the result up. The rows are replayed the way ``acd.state.transition`` wrote them, keeping what a
single last row cannot say:

- a sign-out or pause asked for during a call is journaled once, as a row that keeps the state
  ("sign-out-pending", "pause-pending: <reason>"); later rows ("call-finished" into after-call work, ...)
  do not repeat it. If it was neither cancelled ("sign-out-cancelled", "pause-cancelled") nor applied
  since (a row into logged_out; for a pause also a row into paused), it wins: the call it waited for did
  not survive the restart, so the agent is signed out, or paused with that reason (a sign-out wins over
  a pause, as in ``acd.state``);
- otherwise the last row's state decides: logged_out stays logged out, paused stays paused with its
  reason (the last reason the agent paused with: registration notes and "restored" rows keep it),
  and an agent available, ringing, on a call, holding or in after-call work comes back available.

``fresh_start`` names the rows after which earlier history no longer matters (the agent had no pending
request and was not paused), so the desk reads only the rows from each agent's last one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from acd.model import AgentState

S = AgentState

JournalRow = tuple[str, str, str | None]
"""One ``agent_events`` row as the desk reads it: (from_state, to_state, reason)."""

# Reasons acd.state.transition journals (tests/unit/test_acd_restore.py drives it to keep these honest).
SIGN_IN = "sign-in"
OFFERED = "offered"
SIGN_OUT_PENDING = "sign-out-pending"
SIGN_OUT_CANCELLED = "sign-out-cancelled"
PAUSE_PENDING_PREFIX = "pause-pending: "
PAUSE_CANCELLED = "pause-cancelled"
REGISTRATION_NOTES = frozenset({"registration-lost", "registration-back"})
RESTORED = "restored"
"""The reason the queue service journals for a state it took up at start (from logged_out)."""

FRESH_START_REASONS = frozenset({SIGN_IN, OFFERED})
"""With any row into logged_out, the rows that start a fresh history: signing in comes from logged_out,
and a call is only offered to an available agent with no pending request (``acd.state._offer``)."""

CALL_STATES = frozenset({S.RINGING, S.ON_CALL, S.ON_HOLD})
"""The states in which a sign-out or pause is kept pending instead of applied."""


def fresh_start(row: JournalRow) -> bool:
    """True for a row that leaves the agent with no pending request and no pause reason to remember."""
    _from_state, to_state, reason = row
    return to_state == S.LOGGED_OUT or reason in FRESH_START_REASONS


def restored_state(rows: Iterable[JournalRow]) -> tuple[AgentState, str | None]:
    """The state (logged_out, available or paused) and pause reason to restore from one agent's rows.

    ``rows`` are in journal order; the whole history or any part of it from a ``fresh_start`` row gives
    the same answer. No rows: logged out.
    """
    replay = _Replay()
    for row in rows:
        replay.apply(row)
    return replay.result()


@dataclass
class _Replay:
    """What the rows so far say: the state, the pause reason and the pending requests."""

    state: AgentState = S.LOGGED_OUT
    pause_reason: str | None = None
    pending_sign_out: bool = False
    pending_pause: str | None = None

    def result(self) -> tuple[AgentState, str | None]:
        if self.state is S.LOGGED_OUT or self.pending_sign_out:
            return S.LOGGED_OUT, None
        if self.pending_pause is not None:
            return S.PAUSED, self.pending_pause
        if self.state is S.PAUSED:
            return S.PAUSED, self.pause_reason
        return S.AVAILABLE, None

    def apply(self, row: JournalRow) -> None:
        from_state, to_state, reason = _state(row[0]), _state(row[1]), row[2] or ""
        if reason == RESTORED:
            # The previous controller took the agent up with no pending request; a paused agent kept the
            # reason it had (the row itself only says "restored").
            before, kept = self.result()
            if before is not S.PAUSED:
                kept = self.pause_reason if self.state is S.PAUSED else None
            self._fresh(to_state, kept if to_state is S.PAUSED else None)
        elif to_state is S.LOGGED_OUT or reason in FRESH_START_REASONS:
            self._fresh(to_state, None)
        elif from_state is not to_state:
            self.state = to_state
            if to_state is S.PAUSED:
                # A pause applied (a pending one, or a new one during after-call work); a pending sign-out
                # is still pending in acd.state (its _pause keeps it), so it is kept here too.
                self.pause_reason, self.pending_pause = reason, None
            else:
                self.pause_reason = None
        else:
            self.state = to_state
            self._note(to_state, reason)

    def _note(self, state: AgentState, reason: str) -> None:
        """A row that keeps the state: a request made pending or cancelled, a registration, a new pause reason."""
        if reason in REGISTRATION_NOTES:
            return
        if reason == SIGN_OUT_CANCELLED:
            self.pending_sign_out = False
        elif reason == SIGN_OUT_PENDING and state in CALL_STATES:
            self.pending_sign_out = True
        elif reason == PAUSE_CANCELLED and state is not S.PAUSED:
            self.pending_pause = None
        elif reason.startswith(PAUSE_PENDING_PREFIX) and state in CALL_STATES:
            self.pending_pause = reason.removeprefix(PAUSE_PENDING_PREFIX)
        elif state is S.PAUSED:
            self.pause_reason = reason

    def _fresh(self, state: AgentState, pause_reason: str | None) -> None:
        self.state, self.pause_reason = state, pause_reason
        self.pending_sign_out, self.pending_pause = False, None


def _state(value: str) -> AgentState:
    """A journaled state; one this version does not know counts as available (as restore always did)."""
    try:
        return AgentState(value)
    except ValueError:
        return S.AVAILABLE
