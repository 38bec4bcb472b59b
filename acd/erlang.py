"""Erlang C, minimal and pure: how many agents a queue needs for its service level.

Used by the overflow ladder (``acd.overflow``) when its last stage raises an alert: "N more seats are
needed" is Erlang C on the live arrival rate and average handle time, for the manual's 80 % answered within
20 s. The reports have their own, fuller Erlang module (engine.reports.erlang); this one stays in ``acd`` so
the pure ladder imports nothing from the engine.
"""

from __future__ import annotations

import math

MAX_AGENTS = 10_000


def wait_probability(agents: int, erlangs: float) -> float:
    """Erlang C: the probability that a caller has to wait, with ``agents`` agents and ``erlangs`` of
    offered load (arrival rate x handle time). 1.0 when the agents cannot carry the load at all."""
    if erlangs <= 0:
        return 0.0
    if agents <= erlangs:
        return 1.0
    # Erlang B by its recurrence (no factorials), then C from B.
    b = 1.0
    for n in range(1, agents + 1):
        b = erlangs * b / (n + erlangs * b)
    return agents * b / (agents - erlangs * (1 - b))


def service_level(agents: int, arrivals_per_h: float, aht_s: float, answer_within_s: float) -> float:
    """The share of callers answered within ``answer_within_s`` (0..1)."""
    erlangs = arrivals_per_h * aht_s / 3600
    if erlangs <= 0:
        return 1.0
    if agents <= erlangs:
        return 0.0
    waits = wait_probability(agents, erlangs)
    return 1 - waits * math.exp(-(agents - erlangs) * answer_within_s / aht_s)


def agents_needed(arrivals_per_h: float, aht_s: float, target: float = 0.8, answer_within_s: float = 20) -> int:
    """The fewest agents that answer ``target`` (0.8) of the calls within ``answer_within_s`` (20 s);
    0 with no traffic. ValueError for a target outside 0..1 or a handle time of 0 or less."""
    if not 0 < target < 1:
        raise ValueError("the service level target is a share between 0 and 1")
    if aht_s <= 0:
        raise ValueError("the average handle time must be above 0 s")
    if arrivals_per_h <= 0:
        return 0
    erlangs = arrivals_per_h * aht_s / 3600
    agents = max(1, math.floor(erlangs) + 1)
    while agents < MAX_AGENTS and service_level(agents, arrivals_per_h, aht_s, answer_within_s) < target:
        agents += 1
    return agents
