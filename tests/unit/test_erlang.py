"""Erlang C (engine.reports.erlang) against published tables and worked examples, and against the textbook
factorial formula computed exactly with fractions.

Published figures used:

- Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example"
  (callcentrehelper.com): 100 calls in 30 minutes, AHT 180 s, target 80 % answered in 20 s -> 10 erlangs;
  11 agents: probability of waiting 68.21 %, service level 39 %; 14 agents is the first count reaching
  80/20 (88.8 %), occupancy 71.4 %.
- Mitan Ltd, "The Erlang-C formula" (the step-by-step example of its call-centre calculator pages):
  360 calls per half hour, 4-minute calls, 55 agents, 15 s target -> 48 erlangs, occupancy 87.3 %,
  probability of waiting 23.9 %, ASA 8.2 s, service level 84.6 %.
- The classic Erlang B table (any teletraffic handbook, e.g. ITU-T "Teletraffic Engineering Handbook",
  table of A for given N and blocking): 10 circuits carry 4.461 erlangs at 1 % blocking, 5.084 at 2 %;
  20 circuits 12.03 erlangs at 1 %.

Each published figure is also checked against the exact formula below, so a typo in a row shows.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from engine.reports.erlang import (
    ServiceTarget,
    agents_needed,
    erlang_b,
    parse_target,
    service_level,
    staffing,
    traffic_erlangs,
    wait_probability,
)


def exact_erlang_c(agents: int, traffic: Fraction) -> Fraction:
    """The textbook formula with factorials, in exact arithmetic (the reference, not the implementation)."""
    top = traffic**agents / math.factorial(agents) * Fraction(agents) / (agents - traffic)
    return top / (sum(traffic**i / math.factorial(i) for i in range(agents)) + top)


def exact_erlang_b(agents: int, traffic: Fraction) -> Fraction:
    top = traffic**agents / math.factorial(agents)
    return top / sum(traffic**i / math.factorial(i) for i in range(agents + 1))


def test_call_centre_helper_worked_example() -> None:
    traffic = traffic_erlangs(calls=100, period_s=30 * 60, aht_s=180)
    assert traffic == pytest.approx(10.0)
    eleven = staffing(11, traffic, aht_s=180, within_s=20)
    assert eleven.wait_probability == pytest.approx(0.6821, abs=5e-5)
    assert eleven.service_level == pytest.approx(0.39, abs=0.005)
    result = agents_needed(traffic, aht_s=180, target=ServiceTarget(0.8, 20), max_occupancy=0.9)
    assert result.agents == 14
    assert result.service_level == pytest.approx(0.888, abs=0.001)
    assert result.occupancy == pytest.approx(0.714, abs=0.001)
    assert service_level(13, traffic, 180, 20) < 0.8 <= service_level(14, traffic, 180, 20)


def test_mitan_worked_example() -> None:
    traffic = traffic_erlangs(calls=360, period_s=30 * 60, aht_s=240)
    assert traffic == pytest.approx(48.0)
    result = staffing(55, traffic, aht_s=240, within_s=15)
    assert result.occupancy == pytest.approx(0.873, abs=0.0005)
    assert result.wait_probability == pytest.approx(0.2387, abs=5e-5)
    assert result.asa_s == pytest.approx(8.18, abs=0.01)
    assert result.service_level == pytest.approx(0.8459, abs=5e-5)


@pytest.mark.parametrize(("agents", "traffic", "blocking"),
                         [(10, 4.461, 0.01), (10, 5.084, 0.02), (20, 12.031, 0.01)])
def test_erlang_b_table_rows(agents: int, traffic: float, blocking: float) -> None:
    assert erlang_b(agents, traffic) == pytest.approx(blocking, rel=0.002)


@pytest.mark.parametrize("traffic", [Fraction(1, 2), Fraction(3), Fraction(10), Fraction(47, 2), Fraction(120)])
def test_matches_the_factorial_formula(traffic: Fraction) -> None:
    first = math.floor(traffic) + 1
    for agents in range(first, first + 12):
        assert wait_probability(agents, float(traffic)) == pytest.approx(float(exact_erlang_c(agents, traffic)),
                                                                          rel=1e-9)
        assert erlang_b(agents, float(traffic)) == pytest.approx(float(exact_erlang_b(agents, traffic)), rel=1e-9)


def test_large_traffic_stays_finite_and_ordered() -> None:
    """10 000 erlangs would overflow a float with A^N / N!: the recursion has no such problem."""
    levels = [service_level(agents, 10_000.0, 300, 20) for agents in range(10_001, 10_200, 10)]
    assert all(0.0 <= level <= 1.0 for level in levels)
    assert levels == sorted(levels)
    result = agents_needed(10_000.0, 300, ServiceTarget(0.8, 20), max_occupancy=1.0)
    assert 10_000 < result.agents < 10_100
    assert result.service_level >= 0.8
    assert service_level(result.agents - 1, 10_000.0, 300, 20) < 0.8


def test_occupancy_cap_adds_agents() -> None:
    """At 10 erlangs, 80/20 needs 14 agents (71 % busy); capping occupancy at 60 % needs ceil(10 / 0.6)."""
    capped = agents_needed(10.0, 180, ServiceTarget(0.8, 20), max_occupancy=0.6)
    assert capped.agents == 17
    assert capped.occupancy <= 0.6


def test_overloaded_and_empty_queues() -> None:
    assert wait_probability(5, 5.0) == 1.0
    assert service_level(4, 5.0, 180, 20) == 0.0
    assert math.isinf(staffing(5, 5.0, 180, 20).asa_s)
    none = agents_needed(0.0, 180, ServiceTarget())
    assert (none.agents, none.service_level, none.occupancy) == (0, 1.0, 0.0)
    # A trickle of calls still needs one agent.
    assert agents_needed(0.01, 180, ServiceTarget()).agents == 1


def test_stricter_targets_never_need_fewer_agents() -> None:
    counts = [agents_needed(25.0, 300, ServiceTarget(level, 20)).agents for level in (0.7, 0.8, 0.9, 0.95)]
    assert counts == sorted(counts)
    within = [agents_needed(25.0, 300, ServiceTarget(0.8, seconds)).agents for seconds in (60, 30, 20, 10, 0)]
    assert within == sorted(within)


@pytest.mark.parametrize(("text", "level", "within"),
                         [("80/20", 0.8, 20.0), ("90%/15s", 0.9, 15.0), (" 95 / 10 ", 0.95, 10.0),
                          ("80.5/20", 0.805, 20)])
def test_parse_target(text: str, level: float, within: float) -> None:
    target = parse_target(text)
    assert (target.level, target.within_s) == (pytest.approx(level), within)


@pytest.mark.parametrize("text", ["80", "80/", "/20", "eighty/20", "0/20", "100/20", "120/20", "80/-5", ""])
def test_parse_target_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_target(text)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        agents_needed(10.0, 180, ServiceTarget(), max_occupancy=0)
    with pytest.raises(ValueError):
        agents_needed(10.0, 180, ServiceTarget(), max_occupancy=1.5)
    with pytest.raises(ValueError):
        wait_probability(-1, 3.0)
    with pytest.raises(ValueError):
        erlang_b(3, math.nan)
