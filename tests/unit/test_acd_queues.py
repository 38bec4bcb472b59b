"""The queue file: the shipped default loads; every mistake is reported at once as file:line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from acd.model import QueueName
from acd.queues import DEFAULT_FILE, QueueConfigError, load_queues, parse_queues
from engine.errors import SettingsError

SMALL = """\
defaults:
  ring_timeout_s: 20
queues:
  general:
    skills: [general]
  vip:
    skills: [vip, senior]
    ring_timeout_s: 10
    max_wait_s: 120.5
"""


def problems(text: str) -> list[str]:
    with pytest.raises(QueueConfigError) as caught:
        parse_queues(textwrap.dedent(text), "q.yaml")
    return [str(p) for p in caught.value.problems]


def test_default_file_has_the_four_queues_with_documented_values() -> None:
    queues = load_queues()
    assert list(queues) == ["general", "vip", "complaints", "night"]
    lines = DEFAULT_FILE.read_text(encoding="utf-8").splitlines()
    for queue in queues.values():
        assert lines[queue.line - 1].strip() == f"{queue.name}:"
        # The night queue (the flow's night plan) is served by whoever takes general calls.
        assert queue.skills == {"general" if queue.name == "night" else queue.name}
        assert (queue.service_level_s, queue.announce_every_s, queue.moh_class, queue.ring_timeout_s) == \
            (20, 30, "default", 15)
        assert (queue.max_wait_s, queue.on_max_wait, queue.priority_bonus_repeat, queue.repeat_window_h) == \
            (300, "offer-message", 5, 24)


def test_defaults_apply_and_queues_override_them() -> None:
    queues = parse_queues(SMALL, "q.yaml")
    assert queues["general"].ring_timeout_s == 20 and queues["general"].max_wait_s == 300
    vip = queues["vip"]
    assert (vip.skills, vip.ring_timeout_s, vip.max_wait_s) == ({"vip", "senior"}, 10, 120.5)
    assert (vip.file, vip.line, vip.lines["ring_timeout_s"]) == ("q.yaml", 6, 8)


def test_every_problem_is_reported_with_its_line() -> None:
    found = problems("""\
        defaults:
          skills: [general]
          ring_timeout_s: soon
        queues:
          general:
            skills: general
          vip:
            service_level_s: 0
          complaints:
            skills: [complaints]
            repeat_window_h: -1
            priority_bonus_repeat: 2.5
            colour: red
          bad name:
            skills: []
        extra: 1
        """)
    assert found == [
        "q.yaml:2: defaults: 'skills' must be set per queue",
        "q.yaml:3: defaults ring_timeout_s must be a number above 0",
        "q.yaml:6: queue 'general' skills must be a list of skill names, e.g. [general]",
        "q.yaml:7: queue 'vip' needs 'skills' (the skills an agent must have; [] for anyone)",
        "q.yaml:8: queue 'vip' service_level_s must be a number above 0",
        "q.yaml:11: queue 'complaints' repeat_window_h must be a number of 0 or more",
        "q.yaml:12: queue 'complaints' priority_bonus_repeat must be a whole number of 0 or more",
        "q.yaml:13: queue 'complaints': unknown field 'colour' (known: skills, service_level_s, announce_every_s, "
        "moh_class, ring_timeout_s, max_wait_s, on_max_wait, on_no_agent, max_expected_wait_s, "
        "priority_bonus_repeat, repeat_window_h, "
        "hold_reassure_every_s, hold_target_s, hold_limit_s, silent_wait_s, auto_silent_after_s, transfer_code, "
        "overflow)",
        "q.yaml:14: queue name 'bad name' is not a valid name (letters, digits, _ and -)",
        "q.yaml:16: unknown section 'extra' (known: tiers, defaults, queues)",
    ]


def test_structure_errors() -> None:
    assert problems("") == ["q.yaml:1: the file is empty"]
    assert problems("queues: [general]\n") == ["q.yaml:1: queues must be a mapping"]
    assert problems("queues: {}\n") == ["q.yaml:1: no queue is defined"]
    assert problems("defaults: {}\n") == ["q.yaml:1: the file needs 'queues'"]
    assert problems("queues:\n  general:\n    skills: [a]\n  general:\n    skills: [b]\n") == \
        ["q.yaml:4: queues: duplicate key 'general'"]
    assert problems("queues:\n  general: {skills: [a\n")[0].startswith("q.yaml:3: not valid YAML")
    assert problems("queues:\n  g:\n    skills: [a]\n    on_max_wait: [x]\n") == \
        ["q.yaml:4: queue 'g' on_max_wait must be offer-message, queue:<queue name> or site:<overflow site name>"]


def test_unreadable_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_queues(tmp_path / "missing.yaml")
    assert str(caught.value).startswith(f"{tmp_path / 'missing.yaml'}:1: cannot read the queue file")
    assert caught.value.exit_code == 2


def test_transfer_codes_are_digits_and_unique() -> None:
    assert problems("""\
        queues:
          general:
            skills: []
            transfer_code: 1
          vip:
            skills: []
            transfer_code: 1
          complaints:
            skills: []
            transfer_code: x1
        """) == [
        "q.yaml:7: queue 'vip': transfer_code 1 is already used by queue 'general'",
        "q.yaml:10: queue 'complaints' transfer_code must be 1 to 4 digits",
    ]


def test_per_call_overflow_targets_are_checked() -> None:
    base = "queues:\n  g:\n    skills: [a]\n    on_max_wait: queue:{target}\n  v:\n    skills: [b]\n"
    assert problems(base.format(target="nowhere")) == \
        ["q.yaml:4: queue 'g': on_max_wait names no queue 'nowhere' (queues: g, v)"]
    assert problems(base.format(target="g")) == \
        ["q.yaml:4: queue 'g': on_max_wait cannot move callers to the same queue"]
    queues = parse_queues(base.format(target="v") + "    on_no_agent: site:partner\n    max_expected_wait_s: 120\n",
                          "q.yaml")
    assert queues[QueueName("g")].on_max_wait == "queue:v"
    assert (queues[QueueName("v")].on_no_agent, queues[QueueName("v")].max_expected_wait_s) == ("site:partner", 120)
