"""The sustained-rate criterion, pure: one load step's measurements in, a verdict naming each failed condition out.

A rate is *sustained* when, for the whole step,

- every planned call completed (SIPp placed it and it ended successfully),
- there was no SIP retransmission (SIPp resent nothing and the PBX did not resend its 200 OK),
- p95 INVITE->200 <= 100 ms,
- p95 key->next-prompt <= 200 ms (IVR responsiveness; only where the scenario sends keys),
- p95 answer->greeting <= 200 ms (the same responsiveness for the first prompt; only where it is measured:
  the hotline's dialplan answers before the controller gets the call, so INVITE->200 alone no longer shows
  a slow controller; the caller would hear silence instead),
- channels did not pile up: the peak stays within rate x call length x tolerance (plus a small slack for
  low rates, where one second of sampling jitter is a large share).

"0 failed calls" alone is not enough: SIPp counts no failure while Asterisk is already collapsing (seen:
p95 INVITE->200 of 2,034 ms and 532 channels for 360 expected, every call "successful"). A measurement
that is missing where it is required (no answer time at all, no channel count) fails its condition: the
step cannot be called sustained on faith. The key->prompt condition is not applicable (``None``) until a
scenario sends keys. ``bench.report`` builds the ``Observation`` of each step; ``bench.search`` bisects on
``Verdict.sustained``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Condition(StrEnum):
    COMPLETED = "completed"
    RETRANSMISSIONS = "retransmissions"
    ANSWER_P95 = "answer_p95"
    KEY_PROMPT_P95 = "key_prompt_p95"
    GREETING_P95 = "greeting_p95"
    CHANNELS = "channels"


@dataclass(frozen=True)
class Thresholds:
    """The limits of the criterion; the defaults are the issue's. ``channel_slack`` is added to the
    expected channel count so that a rate of a few calls/s is not failed for one call more in a sample."""

    answer_p95_ms: float = 100.0
    key_prompt_p95_ms: float = 200.0
    greeting_p95_ms: float = 200.0
    channel_tolerance: float = 1.2
    channel_slack: int = 5

    def __post_init__(self) -> None:
        if min(self.answer_p95_ms, self.key_prompt_p95_ms, self.greeting_p95_ms) <= 0:
            raise ValueError("latency limits must be positive")
        if self.channel_tolerance < 1 or self.channel_slack < 0:
            raise ValueError("channel tolerance must be >= 1 and the slack >= 0")


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Observation:
    """What one load step measured, as the criterion needs it.

    ``call_seconds``: how long one call holds its channels once answered (the caller's hold); None when
    unknown, which makes the channel condition not applicable. ``channels_per_call``: channels one call
    holds on the PBX on average over ``call_seconds`` (1 for a caller the PBX answers itself; a fraction
    for a channel held part of the call). ``retransmissions``: every SIP resend seen,
    by SIPp or by the PBX.
    """

    rate: float
    planned: int
    successful: int
    failed: int
    retransmissions: int
    answer_p95_ms: float | None
    peak_channels: int | None
    call_seconds: float | None = None
    key_prompt_p95_ms: float | None = None
    greeting_p95_ms: float | None = None
    channels_per_call: float = 1

    @property
    def expected_channels(self) -> float | None:
        if self.call_seconds is None:
            return None
        return self.rate * self.call_seconds * self.channels_per_call


@dataclass(frozen=True)
class Check:
    """One condition's outcome. ``passed`` is None when the condition does not apply to the step."""

    condition: Condition
    passed: bool | None
    detail: str


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def sustained(self) -> bool:
        return all(check.passed is not False for check in self.checks)

    @property
    def failed(self) -> tuple[Condition, ...]:
        return tuple(check.condition for check in self.checks if check.passed is False)

    def explain(self) -> str:
        """The failed conditions' details, ``; ``-separated; ``sustained`` when none failed."""
        return "; ".join(check.detail for check in self.checks if check.passed is False) or "sustained"


def _completed(obs: Observation) -> Check:
    ok = obs.failed == 0 and obs.successful >= obs.planned
    detail = f"{obs.successful}/{obs.planned} calls completed"
    if obs.failed:
        detail += f", {obs.failed} failed"
    return Check(Condition.COMPLETED, ok, detail)


def _retransmissions(obs: Observation) -> Check:
    return Check(Condition.RETRANSMISSIONS, obs.retransmissions == 0, f"{obs.retransmissions} SIP retransmissions")


def _latency(condition: Condition, name: str, p95: float | None, limit: float, required: bool) -> Check:
    if p95 is None:
        return Check(condition, False if required else None, f"{name} not measured")
    ok = p95 <= limit
    return Check(condition, ok, f"p95 {name} {p95:,.1f} ms {'<=' if ok else '>'} {limit:g} ms")


def _channels(obs: Observation, limits: Thresholds) -> Check:
    expected = obs.expected_channels
    if expected is None:
        return Check(Condition.CHANNELS, None, "expected channel count unknown")
    allowed = math.floor(expected * limits.channel_tolerance) + limits.channel_slack
    if obs.peak_channels is None:
        return Check(Condition.CHANNELS, False, f"channels not measured ({expected:,.0f} expected)")
    ok = obs.peak_channels <= allowed
    return Check(Condition.CHANNELS, ok, f"peak {obs.peak_channels:,} channels for {expected:,.0f} expected "
                                         f"({'within' if ok else 'above'} {allowed:,})")


def judge(obs: Observation, limits: Thresholds = DEFAULT_THRESHOLDS) -> Verdict:
    """Every condition of the criterion, in a fixed order (see the module docstring)."""
    answers_expected = obs.planned > 0
    return Verdict((
        _completed(obs),
        _retransmissions(obs),
        _latency(Condition.ANSWER_P95, "INVITE→200", obs.answer_p95_ms, limits.answer_p95_ms, answers_expected),
        _latency(Condition.KEY_PROMPT_P95, "key→prompt", obs.key_prompt_p95_ms, limits.key_prompt_p95_ms, False),
        _latency(Condition.GREETING_P95, "answer→greeting", obs.greeting_p95_ms, limits.greeting_p95_ms, False),
        _channels(obs, limits),
    ))
