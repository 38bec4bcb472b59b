"""The soak's verdicts, pure: who the callers are, what became of each, and whether the journal holds.

No processes, sockets or database here; ``bench.soak`` gathers the facts and ``bench.soak_report`` writes
them up. Three parts:

- ``plan_callers``: the caller mix, one ``CallerPlan`` per call (kind, a caller number of its own so the
  call is found in the journal by number, when it is placed, and whether the caller hangs up by choice).
- ``classify``: one call's outcome from what its SIPp caller saw (``CallerSide``) and the journal's rows
  for its number (``JournalCall``). Every call offered lands in exactly one category: served by an agent,
  served by self-service, message, abandoned by the caller's own choice, only on Asterisk (the dialplan
  fallback answered: no controller was there), or **lost**: everything else, each with a reason.
- ``journal_gaps``: every call closed exactly once (one ``call.ended``), none without ``call.started``,
  no event twice (same call, kind and timestamp), ``seq`` 1..n without a hole per call.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Kind = Literal["agent", "self-service", "message", "abandon"]
KINDS: tuple[Kind, ...] = ("agent", "self-service", "message", "abandon")
Category = Literal["served_agent", "served_self_service", "message", "abandoned", "fallback_only", "lost"]
CATEGORIES: tuple[Category, ...] = ("served_agent", "served_self_service", "message", "abandoned",
                                    "fallback_only", "lost")
EndedBy = Literal["hotline", "caller", "error"]

# Caller numbers: 1372 + one digit per kind + a 6-digit serial (outside the shipped VIP lists).
NUMBER_PREFIX = "1372"
KIND_DIGIT: Mapping[Kind, str] = {"agent": "1", "self-service": "2", "message": "3", "abandon": "4"}
DEFAULT_MIX: Mapping[Kind, float] = {"agent": 0.45, "self-service": 0.2, "message": 0.15, "abandon": 0.2}
ABANDON_AFTER_S = (12.0, 20.0)
SELF_SERVICE_HANGUP_S = 32.0


@dataclass(frozen=True)
class CallerPlan:
    """One caller: ``at_s`` after the start, from ``number``; ``hangs_up_after_s`` is the caller's own
    choice to hang up (counted from the answer), None for a caller who waits for the hotline to end it."""

    number: str
    kind: Kind
    at_s: float
    hangs_up_after_s: float | None


def caller_number(kind: Kind, serial: int) -> str:
    if not 0 <= serial < 1_000_000:
        raise ValueError(f"serial {serial} out of range")
    return f"{NUMBER_PREFIX}{KIND_DIGIT[kind]}{serial:06d}"


def plan_callers(rate: float, seconds: float, mix: Mapping[Kind, float] = DEFAULT_MIX,
                 seed: int = 1) -> list[CallerPlan]:
    """``rate * seconds`` callers, evenly spaced, each kind drawn with the ``mix`` weights (seeded)."""
    if rate <= 0 or seconds <= 0:
        raise ValueError("rate and seconds must be positive")
    rng = random.Random(seed)
    kinds = [k for k in KINDS if mix.get(k, 0) > 0]
    weights = [mix[k] for k in kinds]
    plans: list[CallerPlan] = []
    for i in range(int(rate * seconds)):
        kind = rng.choices(kinds, weights)[0]
        hangup: float | None = None
        if kind == "abandon":
            hangup = round(rng.uniform(*ABANDON_AFTER_S), 1)
        elif kind == "self-service":
            hangup = SELF_SERVICE_HANGUP_S
        plans.append(CallerPlan(caller_number(kind, i), kind, round(i / rate, 2), hangup))
    return plans


@dataclass(frozen=True)
class CallerSide:
    """What the SIPp caller saw (``engine.testcall.CallReport``, reduced)."""

    answered: bool
    status: int | None
    ended_by: EndedBy
    duration_s: float
    error: str | None = None


@dataclass(frozen=True)
class JournalEvent:
    seq: int
    kind: str
    at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JournalCall:
    """A ``calls`` row with its ``call_events``, in ``seq`` order."""

    id: int
    uid: str
    caller: str | None
    source: str
    outcome: str | None
    events: tuple[JournalEvent, ...] = ()

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


@dataclass(frozen=True)
class Verdict:
    number: str
    kind: Kind
    category: Category
    reason: str
    call_ids: tuple[int, ...] = ()
    readopted: bool = False  # a restarted controller took the call up (``call.readopted``)


def _facts(calls: Sequence[JournalCall]) -> dict[str, bool]:
    events = [e for c in calls for e in c.events]
    return {
        "agent": any(e.kind == "queue.answered" for e in events),
        "self_service": any(e.kind == "lookup.result" and e.data.get("kind") != "password"
                            and e.data.get("status") == "ok" for e in events),
        "message": any(e.kind == "message.saved" for e in events),
        "queued": any(e.kind == "queue.entered" for e in events),
    }


def _last_steps(calls: Sequence[JournalCall], n: int = 4) -> str:
    kinds = [k for c in calls for k in c.kinds()]
    return ", ".join(kinds[-n:]) or "no events"


def classify(plan: CallerPlan, side: CallerSide | None, journal: Sequence[JournalCall]) -> Verdict:
    """The category of one call (see the module docstring); a lost call's reason says what went wrong."""
    ids = tuple(c.id for c in journal)
    readopted = any("call.readopted" in c.kinds() for c in journal)

    def verdict(category: Category, reason: str) -> Verdict:
        return Verdict(plan.number, plan.kind, category, reason, ids, readopted)

    if side is None:
        return verdict("lost", "the caller never ran (no SIPp report)")
    if not side.answered:
        why = f"status {side.status}" if side.status is not None else (side.error or "no answer")
        return verdict("lost", f"not answered: {why}")
    controller = [c for c in journal if c.source == "controller"]
    if not controller:
        if any(c.source == "fallback" for c in journal):
            return verdict("fallback_only", "answered by the dialplan fallback (no controller)")
        return verdict("lost", f"answered but no journal record (ended by {side.ended_by})")
    by_choice = side.ended_by == "caller" and plan.hangs_up_after_s is not None
    normal_end = side.ended_by == "hotline" or by_choice
    facts = _facts(controller)
    if normal_end:
        if facts["agent"]:
            return verdict("served_agent", "an agent answered")
        if facts["message"]:
            return verdict("message", "message saved")
        if facts["self_service"]:
            return verdict("served_self_service", "look-up read out")
    if by_choice:
        where = "while waiting in the queue" if facts["queued"] else "in the IVR"
        return verdict("abandoned", f"hung up {where} after {plan.hangs_up_after_s:g} s, by choice")
    if side.ended_by == "hotline":
        return verdict("lost", f"the hotline hung up without serving ({_last_steps(controller)})")
    if side.ended_by == "caller":
        return verdict("lost", f"left waiting until the caller's limit after {side.duration_s:.0f} s "
                               f"({_last_steps(controller)})")
    return verdict("lost", f"the call broke off: {side.error or 'no BYE'} ({_last_steps(controller)})")


def count(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """Calls offered and per category (every category present, 0 when none)."""
    found = Counter(v.category for v in verdicts)
    return {"offered": sum(found.values()), **{c: found.get(c, 0) for c in CATEGORIES}}


def readopted(verdicts: Iterable[Verdict]) -> dict[str, int]:
    """Per category, the calls a restarted controller took up."""
    found = Counter(v.category for v in verdicts if v.readopted)
    return {c: found.get(c, 0) for c in CATEGORIES}


def by_kind(verdicts: Iterable[Verdict]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {k: dict.fromkeys(CATEGORIES, 0) for k in KINDS}
    for v in verdicts:
        table[v.kind][v.category] += 1
    return table


@dataclass(frozen=True)
class Gap:
    call_id: int
    uid: str
    problem: str


def journal_gaps(calls: Iterable[JournalCall]) -> list[Gap]:
    """What breaks the journal's promises, one ``Gap`` per problem per call."""
    gaps: list[Gap] = []
    for call in calls:
        def gap(problem: str, call: JournalCall = call) -> None:
            gaps.append(Gap(call.id, call.uid, problem))

        kinds = Counter(call.kinds())
        if kinds["call.started"] == 0:
            gap("no call.started")
        if kinds["call.ended"] != 1:
            gap(f"call.ended {kinds['call.ended']} times")
        twice = Counter((e.kind, e.at) for e in call.events)
        for (kind, at), n in sorted(twice.items(), key=lambda item: item[0][1]):
            if n > 1:
                gap(f"{kind} at {at.isoformat()} {n} times")
        seqs = sorted(e.seq for e in call.events)
        if seqs != list(range(1, len(seqs) + 1)):
            have = set(seqs)
            missing = sorted(set(range(1, max(seqs, default=0) + 1)) - have)
            repeated = sorted(s for s, n in Counter(seqs).items() if n > 1)
            gap(f"seq not contiguous (missing {missing[:10]}, repeated {repeated[:10]})")
    return gaps


def by_number(calls: Iterable[JournalCall]) -> dict[str, list[JournalCall]]:
    out: dict[str, list[JournalCall]] = {}
    for call in calls:
        if call.caller:
            out.setdefault(call.caller, []).append(call)
    return out
