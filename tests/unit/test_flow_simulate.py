"""Dry runs of the shipped hotline flow, and the `hotline flows check` / `flows simulate` commands."""

from __future__ import annotations

import asyncio
import json
from datetime import date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import ivr_flows
from engine.cli.main import cli
from engine.ivr.ports import Incident
from engine.ivr.prompts import flow_prompts
from engine.ivr.runner import Exit, IvrServices
from engine.ivr.simulate import (
    FixedIncidents,
    NoIncidents,
    SampleSelfService,
    SimulationResult,
    parse_keys,
    simulate,
)
from engine.prompts.catalog import BY_NAME
from ivr_flows.loader import load_flow

FLOWS_DIR = Path(ivr_flows.__file__).parent
FLOW = load_flow(FLOWS_DIR / "hotline.yaml")
MONDAY_AFTERNOON = datetime(2026, 11, 23, 15, 0)


def sim(keys: str, caller: str = "13800138000", dialed: str = "10086", at: datetime = MONDAY_AFTERNOON,
        incidents: FixedIncidents | None = None) -> SimulationResult:
    services = IvrServices(SampleSelfService(at.date()), incidents or NoIncidents())
    return asyncio.run(simulate(FLOW, services, caller, dialed, keys, at, extra_prompts={"incident-3": "网络故障"}))


def test_speed_line_11_with_the_right_password_says_the_balance() -> None:
    result = sim("123456#", dialed="1008611", at=datetime(2026, 11, 23, 9, 0))
    assert result.path[:2] == ["auth_balance", "balance"]
    assert "您的话费余额为一百二十三元四角五分。" in result.said
    assert ("password.checked", {"node": "auth_balance", "ok": True}) in result.notes


def test_speed_lines_12_and_13() -> None:
    assert "您十一月的账单金额为八十八元整。" in sim("123456#", dialed="1008612").said
    assert "您本月已使用流量三点五GB,剩余流量六点五GB。" in sim("123456#", dialed="1008613").said


def test_wrong_password_twice() -> None:
    result = sim("1,1,111111#,222222#")
    assert result.exit == Exit("hangup", "goodbye")
    assert any("请您查证后再来电" in said for said in result.said)
    assert "111111" not in json.dumps(result.to_json(), ensure_ascii=False)


def test_type_ahead_reaches_the_balance_directly() -> None:
    step_by_step = sim("1,1,123456#")
    burst = sim("11123456#")
    for result in (step_by_step, burst):
        assert result.path[4:8] == ["main_menu", "self_service", "auth_balance", "balance"]
        assert "您的话费余额为一百二十三元四角五分。" in result.said
    # Typed in one burst, the self-service menu and the password prompt are cut short.
    assert len(burst.skipped) == 2 and not step_by_step.skipped


def test_vip_caller_gets_the_vip_line() -> None:
    result = sim("", caller="13900000003")
    assert result.path == ["hours", "vip_check", "vip_line"]
    assert result.said == ["您好!这里是贵宾服务专线,请问有什么可以帮助您?"]
    assert result.exit == Exit("queued", "vip_line", "vip", 10)


def test_night_hours_keep_self_service_open_and_0_goes_to_the_night_plan() -> None:
    early = datetime(2026, 11, 23, 6, 14)
    balance = sim("1,1,123456#", at=early)
    assert balance.path[:6] == ["hours", "night", "main_menu", "self_service", "auth_balance", "balance"]
    assert balance.said[0] == BY_NAME["night-service"].zh and len(balance.said[0]) < 30  # short, then the menu
    assert "您的话费余额为一百二十三元四角五分。" in balance.said
    assert sim("123456#", dialed="1008611", at=early).path[:2] == ["auth_balance", "balance"]  # speed lines too
    order = sim("2,20261123001#", at=datetime(2026, 11, 23, 23, 30))
    assert "order_status" in order.path and any("宽带" in s for s in order.said)
    for keys in ("0", "3"):
        night = sim(keys, at=datetime(2026, 11, 23, 22, 30))
        assert night.path == ["hours", "night", "main_menu", "agent" if keys == "0" else "complaints", "night_line"]
        assert night.exit == Exit("queued", "night_line", "night", 0)
    holiday = sim("0", at=datetime(2026, 10, 2, 10, 0))
    assert "greet_holiday" in holiday.path
    assert sim("", at=datetime(2026, 10, 2, 20, 0)).path[:2] == ["hours", "night"]


def test_at_night_nobody_free_offers_a_message_or_a_callback() -> None:
    services = IvrServices(SampleSelfService(date(2026, 11, 23)), NoIncidents())
    result = asyncio.run(simulate(FLOW, services, "13800138000", "10086", "0,2", datetime(2026, 11, 23, 3, 0),
                                  unserved="closed"))
    assert result.path[-3:] == ["night_line", "night_unserved", "callback_booked"]
    assert ("queue.offer", {"queue": "night", "choice": "2"}) in result.notes
    assert result.said[-1] == BY_NAME["callback-booked"].zh


def test_greeting_by_time_of_day() -> None:
    assert sim("0", at=datetime(2026, 11, 23, 9, 0)).said[0] == BY_NAME["greeting-morning"].zh
    assert sim("0").said[0] == BY_NAME["greeting"].zh


def test_timeouts_reprompt_then_the_agent_queue() -> None:
    result = sim("")
    assert result.exit == Exit("queued", "agent_line", "general", 0)
    assert result.said.count("对不起,没有收到您的按键,请重新输入。") == 2
    assert [kind for kind, _ in result.notes].count("ivr.timeout") == 3


def test_invalid_key_then_a_good_one() -> None:
    result = sim("7,3")
    assert "对不起,您的输入有误,请重新输入。" in result.said
    assert result.exit == Exit("queued", "complaints_line", "complaints", 0)


def test_broadband_order_by_its_digits() -> None:
    result = sim("2,20261123001#", at=datetime(2026, 11, 23, 15, 0))
    assert any(s.startswith("工单号二零二六幺幺二三零零幺,您的宽带报修单正在处理中") for s in result.said)
    unknown = sim("2,999999#,T,T,T")
    assert "对不起,没有查到该工单,请您核对后重新输入。" in unknown.said


def test_incident_is_heard_on_its_node() -> None:
    incidents = FixedIncidents([Incident(3, "incident-3", frozenset({"main_menu"}))])
    result = sim("9,0", incidents=incidents)
    assert result.said.count("网络故障") == 1
    assert result.said.index("网络故障") < result.said.index(FLOW.prompts["main-menu"].zh)
    assert ("incident.heard", {"incident": 3, "node": "main_menu"}) in result.notes


def test_scripted_hangup_and_bad_scripts() -> None:
    result = sim("1,H")
    assert result.exit is None and result.transcript[-1] == "=> the caller hung up"
    assert parse_keys("1, T ,,123#") == ["1", "", "", "123#"]
    with pytest.raises(ValueError):
        parse_keys("1,x")


def test_sample_self_service() -> None:
    source = SampleSelfService(date(2026, 11, 23))
    assert asyncio.run(source.check_password("13800138000", "123456")) is True
    assert asyncio.run(source.check_password("13800138000", "654321")) is False
    assert asyncio.run(source.check_password("10000000000", "123456")) is False
    assert asyncio.run(source.lookup("balance", "13800138000")).values == {"amount_fen": 12345}
    assert asyncio.run(source.lookup("broadband_order", "20261123001")).status == "ok"


def test_flow_prompts_for_the_prompt_builder() -> None:
    prompts = flow_prompts([FLOW])
    names = [p.name for p in prompts]
    assert "main-menu" in names and "greeting" not in names
    assert all(p.zh and p.en for p in prompts)


# -- the CLI ---------------------------------------------------------------------------------------------------


def invoke(args: list[str], tmp_path: Path) -> tuple[int, str]:
    env = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(cli, args, env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_cli_check_ok_and_problems(tmp_path: Path) -> None:
    code, out = invoke(["flows", "check"], tmp_path)
    assert code == 0 and out.strip() == f"ok {FLOWS_DIR / 'hotline.yaml'}"
    bad = tmp_path / "bad.yaml"
    bad.write_text("start: a\nnodes:\n  a: {type: goto, next: b}\n  c: {type: hangup}\n", encoding="utf-8")
    code, out = invoke(["flows", "check", str(bad)], tmp_path)
    assert code == 2
    assert out.splitlines() == [f"{bad}:3: goto node 'a' next: unknown node 'b'",
                                f"{bad}:4: hangup node 'c' is unreachable (not reached from start or a speed line)"]
    code, out = invoke(["flows", "check", "--dir", str(tmp_path), "--json"], tmp_path)
    assert code == 2 and json.loads(out)[str(bad)][0]["line"] == 3


def test_cli_simulate(tmp_path: Path) -> None:
    code, out = invoke(["flows", "simulate", "--caller", "13800138000", "--dialed", "1008611", "--keys", "123456#",
                        "--at", "2026-11-23 09:00"], tmp_path)
    assert code == 0, out
    assert out.splitlines()[0].startswith("path: auth_balance -> balance -> after_lookup")
    assert "    hears: 您的话费余额为一百二十三元四角五分。" in out
    assert "123456" not in out.replace("--keys", "")
    # A fixed time: the shipped flow is closed at night, and the test must not depend on when it runs.
    code, out = invoke(["flows", "simulate", "--caller", "13900000001", "--at", "2026-11-23 09:00", "--json"],
                       tmp_path)
    assert code == 0 and json.loads(out)["exit"]["queue"] == "vip"


def test_cli_simulate_usage_errors(tmp_path: Path) -> None:
    code, out = invoke(["flows", "simulate", "--caller", "1", "--keys", "1,x"], tmp_path)
    assert code == 2 and "--keys" in out
    code, out = invoke(["flows", "simulate", "--caller", "1", "--flow", "nope"], tmp_path)
    assert code == 2 and out.startswith("error: no flow 'nope'")
    broken = tmp_path / "flows"
    broken.mkdir()
    (broken / "x.yaml").write_text("start: [\n", encoding="utf-8")
    code, out = invoke(["flows", "simulate", "--caller", "1", "--dir", str(broken)], tmp_path)
    assert code == 2 and out.startswith("error: ") and len(out.strip().splitlines()) == 1


def test_cli_check_finds_the_same_flow_name_in_two_files(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / f"{name}.yaml").write_text("flow: same\nstart: x\nnodes:\n  x: {type: hangup}\n",
                                               encoding="utf-8")
    code, out = invoke(["flows", "check", "--dir", str(tmp_path)], tmp_path)
    assert code == 2
    assert out.splitlines()[-1] == f"{tmp_path / 'b.yaml'}:1: flow 'same' is also defined in {tmp_path / 'a.yaml'}"
