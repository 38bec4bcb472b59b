"""YAML flow files become the model with file and line kept; every malformed part is reported at once."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

import ivr_flows
from engine.errors import SettingsError
from ivr_flows.errors import FlowError, Problem
from ivr_flows.loader import load_flow, load_flows, parse_dates, parse_hours, parse_pattern
from ivr_flows.model import Collect, Lookup, Menu, NumberPattern, Password, Queue
from tests.unit.fakes_ivr import flow_from

DEFAULT = Path(ivr_flows.__file__).parent / "hotline.yaml"

SMALL = """\
flow: small
start: menu
nodes:
  menu:
    type: menu
    prompt: [greeting, main-menu]
    keys:
      1: order
      011: bye
    fallback: bye
  order:
    type: collect
    prompt: main-menu
    var: order
    terminator: null
    next: bye
    fallback: bye
  bye:
    type: hangup
    prompt: goodbye
"""


def problems(text: str) -> list[str]:
    with pytest.raises(FlowError) as caught:
        flow_from(text)
    return [str(p) for p in caught.value.problems]


def test_default_flow_loads_with_lines() -> None:
    flow = load_flow(DEFAULT)
    lines = DEFAULT.read_text(encoding="utf-8").splitlines()
    assert flow.name == "hotline" and flow.start in flow.nodes
    for node in flow.nodes.values():
        assert lines[node.line - 1].strip() == f"{node.name}:", node.name
    main = flow.nodes["main_menu"]
    assert isinstance(main, Menu) and main.target_for("0") == "agent"
    assert lines[main.keys[0].line - 1].strip().startswith('"1":')
    vip = flow.nodes["vip_line"]
    assert isinstance(vip, Queue) and (vip.queue, vip.priority) == ("vip", 10)
    assert flow.caller_in("vip", "13900000005") and not flow.caller_in("vip", "13800138000")
    assert date(2026, 10, 3) in flow.calendar.holidays
    assert all(p.en for p in flow.prompts.values()), "every flow prompt has an English text too"


def test_values_keep_their_text_and_defaults_apply() -> None:
    flow = flow_from(SMALL.replace("011: bye", "0: bye"))
    menu = flow.nodes["menu"]
    assert isinstance(menu, Menu)
    assert menu.prompts == ("greeting", "main-menu")
    assert [(k.key, k.line) for k in menu.keys] == [("1", 8), ("0", 9)]
    collect = flow.nodes["order"]
    assert isinstance(collect, Collect) and collect.terminator is None and collect.max_length == 20


def test_speed_lines_pick_the_entry() -> None:
    flow = load_flow(DEFAULT)
    assert flow.entry_for("1008611", "10086") == "auth_balance"
    assert flow.entry_for("1008613", "10086") == "auth_data"
    assert flow.entry_for("1008699", "10086") == flow.start
    assert flow.entry_for("10086", "10086") == flow.start
    assert flow.entry_for("10010", "10086") == flow.start


def test_every_problem_is_reported_with_file_and_line() -> None:
    text = """\
    start: a
    nodes:
      a:
        type: menu
        prompt: main-menu
        keys: {1: b}
        timeout: soon
        tries: 0
        fallback: b
      b:
        type: play
        prompt: greeting
        nxt: a
      c:
        type: teleport
      d:
        type: lookup
        kind: balance
        say: "余额{amount:amount"
        next: a
    """
    found = problems(text)
    assert "test.yaml:7: menu node 'a' timeout must be a number of seconds above 0" in found
    assert "test.yaml:8: menu node 'a' tries must be at least 1" in found
    assert any(p.startswith("test.yaml:13: play node 'b': unknown field 'nxt'") for p in found)
    assert "test.yaml:10: play node 'b' needs 'next'" in found
    assert any(p.startswith("test.yaml:15: node 'c': unknown type 'teleport'") for p in found)
    assert any(p.startswith("test.yaml:19: lookup node 'd' say: bad template") for p in found)
    assert len(found) == 6


def test_malformed_yaml_is_one_problem_with_its_line() -> None:
    found = problems("start: a\nnodes:\n  a: [unclosed\n  b: c\n")
    assert len(found) == 1 and found[0].startswith("test.yaml:4: not valid YAML")


def test_menu_key_must_be_a_phone_key_and_duplicates_are_kept_for_the_checker() -> None:
    found = problems(SMALL)
    assert found == ["test.yaml:9: menu node 'menu' keys: '011' is not a phone key (0-9 * #)"]
    flow = flow_from(SMALL.replace("011: bye", '"1": bye'))
    menu = flow.nodes["menu"]
    assert isinstance(menu, Menu) and [k.key for k in menu.keys] == ["1", "1"]


def test_calendar_and_caller_lists_are_parsed_once() -> None:
    text = """\
    start: a
    calendar:
      hours: {daily: "08:00-22:00", sat: "09:00-12:00,13:00-17:00", holiday: closed, someday: "08:00-09:00"}
      holidays: [2026-10-01..2026-10-03, 2026-02-30, "2026-05-05..2026-05-01"]
    caller_lists:
      vip: [13900000000-13900000009, "139*", 1380-13, abc]
    nodes:
      a: {type: hangup}
    """
    found = problems(text)
    assert found == [
        "test.yaml:3: calendar hours: unknown day 'someday' (one of mon, tue, wed, thu, fri, sat, sun, weekdays, "
        "weekend, daily, holiday)",
        "test.yaml:4: holiday '2026-02-30' is not a date YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD",
        "test.yaml:4: holiday '2026-05-05..2026-05-01' ends before it starts",
        "test.yaml:6: caller list 'vip': '1380-13' is not a number, a range 13900000000-13900000009 of equal "
        "length, or a prefix 139*",
        "test.yaml:6: caller list 'vip': 'abc' is not a number, a range 13900000000-13900000009 of equal length, "
        "or a prefix 139*",
    ]


def test_value_parsers() -> None:
    assert parse_hours("08:00-12:00, 13:30-24:00").periods == ((480, 720), (810, 1440))
    assert parse_hours("closed").periods == ()
    for bad in ("22:00-08:00", "8-9", "25:00-26:00", "08:61-09:00"):
        with pytest.raises(ValueError):
            parse_hours(bad)
    assert len(parse_dates("2026-10-01..2026-10-07")) == 7
    assert parse_pattern("1391234*") == NumberPattern("prefix", "1391234")
    assert parse_pattern("13900000000-13900000009").matches("13900000009")
    assert not parse_pattern("13900000000-13900000009").matches("139000000010")


def test_password_and_lookup_defaults() -> None:
    flow = load_flow(DEFAULT)
    password = flow.nodes["auth_balance"]
    assert isinstance(password, Password)
    assert (password.length, password.tries, password.account, password.terminator) == (6, 2, "caller", "#")
    lookup = flow.nodes["order_status"]
    assert isinstance(lookup, Lookup) and lookup.key == "order"
    assert ("order", "digits") in lookup.say.fields()


def test_load_flows_reads_a_folder_and_collects_all_files_problems(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(textwrap.dedent(SMALL.replace("011: bye", "2: bye")), encoding="utf-8")
    assert list(load_flows(tmp_path)) == ["small"]
    (tmp_path / "b.yaml").write_text("flow: small\nstart: x\nnodes:\n  x: {type: hangup}\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text("start: [\n", encoding="utf-8")
    with pytest.raises(FlowError) as caught:
        load_flows(tmp_path)
    files = [Path(p.file).name for p in caught.value.problems]
    assert files == ["b.yaml", "c.yaml"]


def test_flow_error_is_a_one_line_settings_error() -> None:
    err = FlowError([Problem("f.yaml", 3, "x"), Problem("f.yaml", 9, "y")])
    assert isinstance(err, SettingsError) and err.exit_code == 2
    assert err.message == "f.yaml:3: x; f.yaml:9: y"


def test_terminator_may_be_null_but_not_any_text() -> None:
    text = SMALL.replace("011: bye", "0: bye").replace("terminator: null", "terminator: x")
    assert problems(text) == ["test.yaml:15: collect node 'order' terminator must be one key of 0-9 * #, not 'x'"]
