"""The overflow ladder in the queue file: the shipped China Mobile plan, and every mistake as file:line."""

from __future__ import annotations

import textwrap
from datetime import time

import pytest

from acd.overflow import Condition, Ladder, NightWindow, RaiseAlert, SignInTier
from acd.queues import QueueConfigError, load_queues, parse_queues


def problems(text: str) -> list[str]:
    with pytest.raises(QueueConfigError) as err:
        parse_queues(textwrap.dedent(text), "q.yaml")
    return [str(p) for p in err.value.problems]


def test_the_shipped_plan_is_china_mobiles() -> None:
    queues = load_queues()
    ladder = queues["general"].overflow
    assert isinstance(ladder, Ladder)
    band = Condition(waiting_above=5, waiting_at_most=10)
    assert [(s.name, s.condition, s.hold_s, s.action) for s in ladder.stages] == [
        ("expert", band, 300, SignInTier("expert")),
        ("outbound", band, 300, SignInTier("outbound", 3)),
        ("qc", band, 300, SignInTier("qc", 3)),
        ("backoffice", Condition(waiting_above=10), 300, SignInTier("backoffice", 3)),
        ("alert", Condition(waiting_above=10), 300, RaiseAlert(0.8, 20)),
    ]
    assert (ladder.release_waiting, ladder.release_dwell_s, ladder.min_stage_s) == (5, 300, 300)
    assert ladder.night == NightWindow(time(22, 0), time(8, 0))
    assert all(q.overflow == ladder for q in queues.values())


def test_a_queue_may_have_its_own_ladder_or_none() -> None:
    queues = parse_queues(textwrap.dedent("""\
        tiers: [inbound, leads, rescue]
        defaults:
          overflow:
            stages:
              - {name: leads, when: {longest_wait_s: 60}, hold_s: 0, sign_in: {tier: leads, up_to: all}}
        queues:
          general: {skills: [general]}
          vip:
            skills: [vip]
            overflow:
              release_waiting: 0
              night: "00:00-06:30"
              stages:
                - {name: rescue, when: {service_level_below: 0.9, available_at_most: 0}, hold_s: 30,
                   sign_in: {tier: rescue, up_to: 2}}
          complaints: {skills: [complaints], overflow: off}
        """), "q.yaml")
    general, vip = queues["general"].overflow, queues["vip"].overflow
    assert general is not None and general.stages[0].condition == Condition(longest_wait_s=60)
    assert general.stages[0].action == SignInTier("leads", None) and general.stages[0].line == 5
    assert vip is not None and vip.night == NightWindow(time(0, 0), time(6, 30)) and vip.release_waiting == 0
    assert vip.stages[0].condition == Condition(service_level_below=0.9, available_at_most=0)
    assert queues["complaints"].overflow is None


def test_every_ladder_mistake_is_reported_with_its_line() -> None:
    found = problems("""\
        defaults:
          overflow:
            release_waiting: 8
            stages:
              - {name: expert, when: {waiting_above: 5, waiting_at_most: 10}, hold_s: 300, sign_in: {tier: expert}}
        queues:
          general:
            skills: [general]
            overflow:
              night: "22:00-22:00"
              colour: red
              stages:
                - {name: a, when: {waiting_above: 10, waiting_at_most: 5}, hold_s: 60, sign_in: {tier: expert}}
                - {name: b, when: {waiting_above: 5}, sign_in: {tier: experts}}
                - {name: c, when: {}, hold_s: 1, alert: {target: 2}}
                - {name: night, when: {waiting_above: 5}, hold_s: 1, sign_in: {tier: inbound, up_to: 0}}
                - {name: d, when: {waiting: 5, service_level_below: 80}, hold_s: -1}
                - {name: e, when: {waiting_above: 5}, hold_s: 1, sign_in: {tier: qc}, alert: {}}
                - {name: e, when: {waiting_above: 6}, hold_s: 1, sign_in: {tier: qc}}
                - {name: e, when: {waiting_above: 6}, hold_s: 1, sign_in: {tier: qc}}
          vip:
            skills: [vip]
            overflow: {}
        """)
    assert found == [
        "q.yaml:3: defaults overflow: release_waiting 8 is above stage 'expert''s waiting_above 5: "
        "the ladder would climb and step down at the same time",
        "q.yaml:10: queue 'general' overflow night must be a time window 'HH:MM-HH:MM' (e.g. \"22:00-08:00\"), "
        "start and end apart",
        "q.yaml:11: queue 'general' overflow: unknown field 'colour' (known: release_waiting, release_dwell_s, "
        "min_stage_s, service_level_window_min, night, stages)",
        "q.yaml:13: queue 'general' overflow stages[1] 'a' when: impossible band 10 < waiting <= 5 "
        "(waiting_at_most must be above waiting_above)",
        "q.yaml:14: queue 'general' overflow stages[2] 'b' needs 'hold_s' (how long its condition must hold "
        "before it fires)",
        "q.yaml:14: queue 'general' overflow stages[2] 'b' sign_in: unknown tier 'experts' "
        "(known: inbound, expert, outbound, qc, backoffice)",
        "q.yaml:15: queue 'general' overflow stages[3] 'c' alert target is a share of calls between 0 and 1 "
        "(e.g. 0.8)",
        "q.yaml:15: queue 'general' overflow stages[3] 'c' when needs a condition (waiting_above, waiting_at_most, "
        "longest_wait_s, service_level_below, available_at_most)",
        "q.yaml:16: queue 'general' overflow stages[4] sign_in up_to must be 1 or more, or 'all'",
        "q.yaml:16: queue 'general' overflow stages[4] sign_in: 'inbound' agents are not a reserve tier",
        "q.yaml:16: queue 'general' overflow stages[4]: 'night' is reserved, choose another stage name",
        "q.yaml:17: queue 'general' overflow stages[5] 'd' hold_s must be a number of seconds of 0 or more",
        "q.yaml:17: queue 'general' overflow stages[5] 'd' needs exactly one action: 'sign_in' (a tier) or 'alert'",
        "q.yaml:17: queue 'general' overflow stages[5] 'd' when service_level_below is a share of calls: above 0, "
        "at most 1 (e.g. 0.8)",
        "q.yaml:17: queue 'general' overflow stages[5] 'd' when: unknown field 'waiting' (known: waiting_above, "
        "waiting_at_most, longest_wait_s, service_level_below, available_at_most)",
        "q.yaml:18: queue 'general' overflow stages[6] 'e' needs exactly one action: 'sign_in' (a tier) or 'alert'",
        "q.yaml:20: queue 'general' overflow stages: stage name 'e' is used twice",
        "q.yaml:23: queue 'vip' overflow needs 'stages' (or 'night', or write 'overflow: off')",
    ]


def test_tiers_must_be_names_with_inbound() -> None:
    assert problems("""\
        tiers: [expert, expert, "two words"]
        queues:
          general: {skills: [general]}
        """) == [
        "q.yaml:1: a tier must be a name (letters, digits, _ and -)",
        "q.yaml:1: tier 'expert' is listed twice",
        "q.yaml:1: tiers must include 'inbound' (the tier of ordinary inbound agents)",
    ]
    assert problems("tiers: []\nqueues:\n  general: {skills: [general]}\n") == [
        "q.yaml:1: tiers must be a list of tier names, e.g. [inbound, expert, outbound, qc, backoffice]"]
