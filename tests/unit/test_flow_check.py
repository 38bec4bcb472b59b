"""The flow checker: one small bad flow per kind of problem, each reported at its file and line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import ivr_flows
from engine.ivr.runner import FlowRunner, IvrServices
from ivr_flows.check import check_file, check_flow
from ivr_flows.errors import FlowError
from tests.unit.fakes_ivr import FakeIncidents, FakeSelfService, flow_from

FLOWS_DIR = Path(ivr_flows.__file__).parent


def found(text: str) -> list[str]:
    return [str(p) for p in check_flow(flow_from(text))]


def test_the_shipped_flows_have_no_problems() -> None:
    for path in FLOWS_DIR.glob("*.yaml"):
        assert check_file(path) == [], path


def test_unknown_targets() -> None:
    assert found("""\
        start: menu
        speed_lines: {"11": nowhere}
        prompts: {invalid-input: 错, no-input: 无}
        nodes:
          menu:
            type: menu
            prompt: greeting
            keys:
              "1": bye
              "2": missing
            fallback: lost
          bye: {type: hangup}
        """) == [
        "test.yaml:2: speed line 11: unknown node 'nowhere'",
        "test.yaml:10: menu node 'menu' key 2: unknown node 'missing'",
        "test.yaml:11: menu node 'menu' fallback: unknown node 'lost'",
    ]
    assert found("start: nope\nnodes:\n  bye: {type: hangup}\n") == [
        "test.yaml:1: start: unknown node 'nope'",
        "test.yaml:3: hangup node 'bye' is unreachable (not reached from start or a speed line)",
    ]


def test_unreachable_node() -> None:
    assert found("""\
        start: hello
        speed_lines: {"11": fast}
        nodes:
          hello: {type: play, prompt: greeting, next: bye}
          fast: {type: goto, next: bye}
          orphan: {type: play, prompt: greeting, next: bye}
          bye: {type: hangup}
        """) == ["test.yaml:6: play node 'orphan' is unreachable (not reached from start or a speed line)"]


def test_prompt_without_text() -> None:
    assert found("""\
        start: hello
        prompts:
          known: "您好"
        nodes:
          hello: {type: play, prompt: [greeting, known, unheard-of], next: bye}
          bye:
            type: hangup
            prompt: also-missing
        """) == [
        "test.yaml:5: play node 'hello' prompt: prompt 'unheard-of' has no text (add it under prompts: with zh and en)",
        "test.yaml:8: hangup node 'bye' prompt: prompt 'also-missing' has no text (add it under prompts: with zh "
        "and en)",
    ]


def test_default_prompt_names_need_texts_too() -> None:
    problems = found("""\
        start: menu
        nodes:
          menu: {type: menu, prompt: greeting, keys: {"1": bye}, fallback: bye}
          bye: {type: hangup}
        """)
    assert problems == [
        "test.yaml:3: menu node 'menu' invalid_prompt: prompt 'invalid-input' has no text (add it under prompts: "
        "with zh and en)",
        "test.yaml:3: menu node 'menu' timeout_prompt: prompt 'no-input' has no text (add it under prompts: with "
        "zh and en)",
    ]


def test_catalog_prompt_redefined_with_another_text() -> None:
    assert found("""\
        start: bye
        prompts:
          goodbye: "拜拜"
        nodes:
          bye: {type: hangup, prompt: goodbye}
        """) == ["test.yaml:3: prompt 'goodbye' is already in the engine's catalog with another text; use another name"]


def test_key_used_twice_in_one_menu() -> None:
    assert found("""\
        start: menu
        prompts: {invalid-input: 错, no-input: 无}
        nodes:
          menu:
            type: menu
            prompt: greeting
            keys:
              1: bye
              "1": menu
            fallback: bye
          bye: {type: hangup}
        """) == ["test.yaml:9: menu node 'menu': key 1 is used twice (first on line 8)"]


def test_loop_without_exit() -> None:
    assert found("""\
        start: a
        nodes:
          a: {type: goto, next: b}
          b: {type: play, prompt: greeting, next: c}
          c: {type: branch_time, open: a, closed: bye}
          bye: {type: hangup}
        """) == ["test.yaml:3: nodes a → b → c → a form a loop that never waits for the caller "
                 "(add a menu, collect or an exit)"]
    # A loop through a menu is how "press 9 to repeat" works: no problem.
    assert found("""\
        start: a
        prompts: {invalid-input: 错, no-input: 无}
        nodes:
          a: {type: play, prompt: greeting, next: menu}
          menu: {type: menu, prompt: greeting, keys: {"9": a, "0": bye}, fallback: a}
          bye: {type: hangup}
        """) == []


def test_password_needs_both_outcomes() -> None:
    assert found("""\
        start: pw
        prompts: {password-prompt: 请输入密码, password-wrong: 错, password-failed: 请您查证后再来电, no-input: 无,
                  selfservice-unavailable: 不可用}
        nodes:
          pw:
            type: password
            success: bye
          bye: {type: hangup}
        """) == ["test.yaml:5: password node 'pw' needs a 'failure' target (where to go after the last wrong try)"]


def test_variables_lookup_kinds_and_formats() -> None:
    assert found("""\
        start: look
        prompts: {not-found: 无, selfservice-unavailable: 不可用}
        nodes:
          look:
            type: lookup
            kind: weather
            key: order
            say: "今天{sky:forecast}"
            next: bye
          bye: {type: hangup}
        """) == [
        "test.yaml:6: lookup node 'look': unknown kind 'weather' (one of balance, bill, data_usage, broadband_order)",
        "test.yaml:7: lookup node 'look' key: variable 'order' is never collected (use 'caller' or a collect "
        "node's var)",
        "test.yaml:8: lookup node 'look' say: unknown format 'forecast' in {sky:forecast} (one of amount, date, data, "
        "digits, number, month, order_status, text)",
    ]


def test_caller_list_and_lengths() -> None:
    assert found("""\
        start: who
        prompts: {invalid-input: 错, no-input: 无}
        caller_lists: {vip: ["139*"]}
        nodes:
          who:
            type: branch_caller
            routes: {vip: entry, gold: entry}
            default: entry
          entry:
            type: collect
            prompt: greeting
            var: order
            min_length: 8
            max_length: 4
            next: bye
            fallback: bye
          bye: {type: hangup}
        """) == [
        "test.yaml:7: branch_caller node 'who': unknown caller list 'gold' (define it under caller_lists:)",
        "test.yaml:13: collect node 'entry': min_length 8 is above max_length 4",
    ]


def test_invalid_times_and_dates_are_reported_by_check_file(tmp_path: Path) -> None:
    path = tmp_path / "hours.yaml"
    path.write_text(textwrap.dedent("""\
        start: bye
        calendar:
          hours:
            daily: "22:00-08:00"
            sun: "9:00-25:00"
          holidays: [2026-13-01]
        nodes:
          bye: {type: hangup}
        """), encoding="utf-8")
    assert [str(p) for p in check_file(path)] == [
        f"{path}:4: calendar hours daily: '22:00-08:00' ends before it starts (split a night into two periods)",
        f"{path}:5: calendar hours sun: '9:00-25:00' is not a valid time of day",
        f"{path}:6: holiday '2026-13-01' is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD",
    ]


def test_the_runner_refuses_a_flow_with_problems() -> None:
    flow = flow_from("start: a\nnodes:\n  a: {type: goto, next: b}\n")
    with pytest.raises(FlowError, match="test.yaml:3: goto node 'a' next: unknown node 'b'"):
        FlowRunner(flow, IvrServices(FakeSelfService(), FakeIncidents()))
