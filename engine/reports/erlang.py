"""Erlang C: how many agents a queue needs for a service-level target. Pure functions, no I/O.

The model (M/M/N): calls arrive at random (Poisson) at ``rate`` per second, each keeps an agent busy for
an exponential time averaging ``aht_s`` (talk + hold + after-call work), callers wait as long as it takes.
The offered traffic is ``A = rate * aht_s`` erlangs; with ``N`` agents (N > A):

    Erlang B, by recursion (no factorials, stable for thousands of erlangs):
        B(0) = 1,   B(n) = A * B(n-1) / (n + A * B(n-1))
    probability of waiting      C = N * B(N) / (N - A * (1 - B(N)))
    service level within T      SL = 1 - C * exp(-(N - A) * T / aht_s)
    average speed of answer     ASA = C * aht_s / (N - A)
    occupancy                   A / N

With N <= A the queue grows without end: C = 1, SL = 0, ASA infinite. ``agents_needed`` is the smallest N
meeting both the service-level target and the occupancy cap. Used by engine.reports.forecast.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MAX_AGENTS = 100_000
"""A search bound far above any hotline; reaching it means the input is nonsense."""


@dataclass(frozen=True)
class ServiceTarget:
    """``level`` of calls (0-1) answered within ``within_s`` seconds: 80/20 is ``ServiceTarget(0.8, 20)``."""

    level: float = 0.8
    within_s: float = 20.0

    def __post_init__(self) -> None:
        if not 0 < self.level < 1:
            raise ValueError(f"service level must be between 0 and 100 % (exclusive), got {self.level * 100:g} %")
        if self.within_s < 0:
            raise ValueError(f"answer time must not be negative, got {self.within_s:g} s")

    def __str__(self) -> str:
        return f"{self.level * 100:g}/{self.within_s:g}"


_TARGET = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*/\s*(\d+(?:\.\d+)?)\s*s?\s*$")


def parse_target(text: str) -> ServiceTarget:
    """``"80/20"`` (percent answered / within seconds) as a ServiceTarget; ValueError when malformed."""
    match = _TARGET.match(text)
    if match is None:
        raise ValueError(f"service-level target {text!r} is not PERCENT/SECONDS, e.g. 80/20")
    return ServiceTarget(float(match[1]) / 100, float(match[2]))


@dataclass(frozen=True)
class Staffing:
    """What ``agents`` agents give for a traffic of ``traffic`` erlangs."""

    agents: int
    traffic: float
    wait_probability: float
    service_level: float
    asa_s: float
    occupancy: float


def _check(agents: int, traffic: float) -> None:
    if agents < 0:
        raise ValueError(f"number of agents must not be negative, got {agents}")
    if traffic < 0 or not math.isfinite(traffic):
        raise ValueError(f"traffic must be a finite number of erlangs >= 0, got {traffic}")


def erlang_b(agents: int, traffic: float) -> float:
    """Probability that a call finds all ``agents`` busy when blocked calls are lost (Erlang B)."""
    _check(agents, traffic)
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def wait_probability(agents: int, traffic: float) -> float:
    """Erlang C: probability that a call has to wait (1.0 when the agents cannot keep up)."""
    _check(agents, traffic)
    if traffic == 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    blocking = erlang_b(agents, traffic)
    return agents * blocking / (agents - traffic * (1 - blocking))


def service_level(agents: int, traffic: float, aht_s: float, within_s: float) -> float:
    """Share of calls answered within ``within_s`` seconds."""
    if aht_s <= 0:
        raise ValueError(f"average handle time must be positive, got {aht_s:g} s")
    waiting = wait_probability(agents, traffic)
    if waiting == 0:
        return 1.0
    if agents <= traffic:
        return 0.0
    return max(0.0, 1 - waiting * math.exp(-(agents - traffic) * within_s / aht_s))


def staffing(agents: int, traffic: float, aht_s: float, within_s: float) -> Staffing:
    """Every figure for ``agents`` agents at once."""
    waiting = wait_probability(agents, traffic)
    if traffic == 0:
        asa = 0.0
    elif agents <= traffic:
        asa = math.inf
    else:
        asa = waiting * aht_s / (agents - traffic)
    return Staffing(agents=agents, traffic=traffic, wait_probability=waiting,
                    service_level=service_level(agents, traffic, aht_s, within_s), asa_s=asa,
                    occupancy=traffic / agents if agents else 0.0)


def traffic_erlangs(calls: float, period_s: float, aht_s: float) -> float:
    """Offered traffic of ``calls`` calls per ``period_s`` seconds, each ``aht_s`` long on average."""
    if period_s <= 0:
        raise ValueError(f"period must be positive, got {period_s:g} s")
    if calls < 0 or aht_s < 0:
        raise ValueError("calls and handle time must not be negative")
    return calls * aht_s / period_s


def agents_needed(traffic: float, aht_s: float, target: ServiceTarget, max_occupancy: float = 1.0) -> Staffing:
    """The fewest agents whose service level reaches ``target`` with occupancy at most ``max_occupancy``.

    No traffic needs no agent. The service level grows with each added agent, so the search walks up
    from the first count that both keeps up with the traffic and respects the occupancy cap.
    """
    if not 0 < max_occupancy <= 1:
        raise ValueError(f"maximum occupancy must be above 0 and at most 100 %, got {max_occupancy * 100:g} %")
    _check(0, traffic)
    if aht_s <= 0:
        raise ValueError(f"average handle time must be positive, got {aht_s:g} s")
    if traffic == 0:
        return staffing(0, 0.0, aht_s, target.within_s)
    agents = max(math.floor(traffic) + 1, math.ceil(traffic / max_occupancy - 1e-9))
    blocking = erlang_b(agents, traffic)
    while agents <= MAX_AGENTS:
        # Erlang B carried from one count to the next: each step costs O(1), whatever the traffic.
        waiting = agents * blocking / (agents - traffic * (1 - blocking))
        level = max(0.0, 1 - waiting * math.exp(-(agents - traffic) * target.within_s / aht_s))
        if level >= target.level and traffic / agents <= max_occupancy + 1e-12:
            return staffing(agents, traffic, aht_s, target.within_s)
        agents += 1
        blocking = traffic * blocking / (agents + traffic * blocking)
    raise ValueError(f"{traffic:g} erlangs need more than {MAX_AGENTS} agents")
