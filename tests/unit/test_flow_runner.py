"""The flow runner on a fake channel: menus with type-ahead, entries, passwords, look-ups, branches, incidents."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from engine.call_session import CallEnded
from engine.ivr.ports import Incident, LookupResult
from engine.ivr.runner import CHINA, FORMATS, Exit, FlowRunner, IvrServices, render_template
from ivr_flows.model import TEMPLATE_FORMATS, Lookup
from tests.unit.fakes_ivr import FakeIncidents, FakeIvrChannel, FakeSelfService, flow_from

FLOW_TEXT = """\
    start: hours
    caller_lists: {vip: ["139*"]}
    calendar:
      hours: {daily: "08:00-22:00", holiday: "09:00-18:00"}
      holidays: [2026-10-01..2026-10-07]
    nodes:
      hours: {type: branch_time, closed: closed, holiday: holiday, morning: morning, open: who}
      closed: {type: hangup, prompt: closed}
      holiday: {type: goto, next: who}
      morning: {type: goto, next: who}
      who: {type: branch_caller, routes: {vip: vip}, default: main}
      vip: {type: queue, queue: vip, priority: high, prompt: vip-greeting}
      main:
        type: menu
        prompt: main-menu
        keys: {"1": self, "2": order, "0": agent, "9": main}
        fallback: agent
      self:
        type: menu
        prompt: self-menu
        keys: {"1": pw, "*": main}
        fallback: agent
      pw: {type: password, success: balance, failure: bye, unavailable: agent}
      balance: {type: lookup, kind: balance, say: "余额{amount_fen:amount}", next: self, fallback: agent, timeout: 0.05}
      order:
        type: collect
        prompt: order-prompt
        var: order
        min_length: 4
        max_length: 8
        next: status
        fallback: agent
      status:
        type: lookup
        kind: broadband_order
        key: order
        say: "工单{order:digits}{status:order_status}"
        not_found: order
        next: bye
      agent: {type: queue, queue: general}
      bye: {type: hangup, prompt: goodbye}
    prompts:
      closed: 非服务时间
      vip-greeting: 贵宾
      main-menu: 主菜单
      self-menu: 自助菜单
      order-prompt: 请输入工单号
      invalid-input: 输入有误
      no-input: 没有收到
      password-prompt: 请输入密码
      password-wrong: 密码有误
      password-failed: 请您查证后再来电
      selfservice-unavailable: 暂时无法使用
      not-found: 没有查到
    """
FLOW = flow_from(FLOW_TEXT)

BALANCE = {("balance", "13800138000"): LookupResult("ok", {"amount_fen": 12345})}


def run(channel: FakeIvrChannel, source: FakeSelfService | None = None, incidents: FakeIncidents | None = None,
        start: str | None = None, max_steps: int = 300) -> Exit:
    services = IvrServices(source or FakeSelfService(results=BALANCE), incidents or FakeIncidents())
    return asyncio.run(FlowRunner(FLOW, services, max_steps=max_steps).run(channel, start))


def local(hour: int, day: date = date(2026, 11, 23)) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=CHINA).astimezone(UTC)


def test_menu_key_selects_and_everything_is_journaled() -> None:
    channel = FakeIvrChannel(["0"])
    exit_ = run(channel)
    assert exit_ == Exit("queued", "agent", "general", 0)
    assert channel.queued == ("general", 0) and not channel.hung_up
    assert channel.path == ["hours", "who", "main", "agent"]
    assert channel.data("ivr.digits") == [{"node": "main", "digits": "0", "valid": True}]
    assert channel.data("ivr.exit") == [{"how": "queued", "node": "agent", "queue": "general", "priority": 0}]
    assert channel.data("ivr.branch")[0] == {"node": "hours", "to": "who", "why": "open"}


def test_type_ahead_skips_prompts_and_selects_the_next_levels() -> None:
    channel = FakeIvrChannel(["11123456#"])  # one burst during the main menu prompt
    exit_ = run(channel)
    assert channel.path[:6] == ["hours", "who", "main", "self", "pw", "balance"]
    # Only the main menu prompt was heard; the rest was typed over.
    assert channel.prompts[:2] == ["main-menu", "text:余额一百二十三元四角五分"]
    assert exit_.node == "agent"  # then the self menu times out three times


def test_invalid_key_clears_type_ahead_and_retries_then_timeouts_fall_back() -> None:
    channel = FakeIvrChannel(["57", None, None])  # the 7 typed after the wrong 5 is forgotten
    exit_ = run(channel)
    assert exit_.node == "agent" and channel.cleared == 1
    assert channel.prompts == ["main-menu", "invalid-input", "main-menu", "no-input", "main-menu"]
    assert channel.data("ivr.digits") == [{"node": "main", "digits": "5", "valid": False}]
    assert [d["try"] for d in channel.data("ivr.timeout")] == [2, 3]
    assert channel.data("ivr.fallback") == [{"node": "main", "tries": 3}]


def test_collect_with_terminator_and_lengths() -> None:
    source = FakeSelfService(results={("broadband_order", "20261123"): LookupResult(
        "ok", {"kind": "repair", "status": "in_progress", "eta": date(2026, 11, 24)})})
    # Too short, then the right number ended by #.
    channel = FakeIvrChannel(["2", "12#", "20261123#"])
    exit_ = run(channel, source)
    assert exit_ == Exit("hangup", "bye") and channel.hung_up
    assert source.looked_up == [("broadband_order", "20261123")]
    assert [(d["digits"], d["valid"]) for d in channel.data("ivr.digits")] == [
        ("2", True), ("12", False), ("20261123", True)]
    assert "text:工单二零二六幺幺二三您的宽带报修单正在处理中,预计十一月二十四日完成" in channel.prompts


def test_collect_ends_on_inter_digit_timeout_and_not_found_goes_back() -> None:
    channel = FakeIvrChannel(["2", "1234", None])  # then every wait times out
    exit_ = run(channel)
    # "1234" then the inter-digit timeout: valid entry, looked up, not found, asked again, then timeouts.
    assert channel.path[-3:] == ["status", "order", "agent"]
    assert channel.data("lookup.result") == [{"node": "status", "kind": "broadband_order", "status": "not_found"}]
    assert "not-found" in channel.prompts and exit_.queue == "general"


def test_right_password_is_asked_once_per_call() -> None:
    source = FakeSelfService(results=BALANCE)
    channel = FakeIvrChannel(["1", "1", "123456#", "1", None, None, None])
    run(channel, source)
    assert channel.path.count("pw") == 2 and source.checked == ["13800138000"]
    assert channel.data("password.checked") == [{"node": "pw", "ok": True},
                                                {"node": "pw", "ok": True, "remembered": True}]
    assert channel.prompts.count("text:余额一百二十三元四角五分") == 2


def test_wrong_password_twice_says_check_and_call_again_and_never_journals_digits() -> None:
    channel = FakeIvrChannel(["1", "1", "111111#", "222222#"])
    exit_ = run(channel)
    assert exit_ == Exit("hangup", "bye")
    assert channel.prompts[-4:] == ["password-prompt", "password-wrong", "password-failed", "goodbye"]
    assert [d["ok"] for d in channel.data("password.checked")] == [False, False]
    assert channel.cleared == 2
    journal = repr(channel.notes)
    assert "111111" not in journal and "222222" not in journal
    assert [d["digits"] for d in channel.data("ivr.digits") if d["node"] == "pw"] == ["******", "******"]


def test_password_source_unavailable_goes_to_its_fallback() -> None:
    channel = FakeIvrChannel(["1", "1", "123456#"])
    exit_ = run(channel, FakeSelfService(password_unavailable=True))
    assert exit_.node == "agent"
    assert channel.prompts[-1] == "selfservice-unavailable"
    assert channel.data("lookup.result") == [{"node": "pw", "kind": "password", "status": "unavailable"}]
    assert channel.data("password.checked") == []


@pytest.mark.parametrize("source", [FakeSelfService(results=BALANCE, delay=1.0), FakeSelfService(fail=True),
                                    FakeSelfService(results={("balance", "13800138000"): LookupResult("ok", {})})])
def test_slow_or_failing_lookup_says_the_fallback_prompt(source: FakeSelfService) -> None:
    channel = FakeIvrChannel(["1", "1", "123456#"])
    exit_ = run(channel, source)
    assert exit_.node == "agent"
    assert channel.data("lookup.result") == [{"node": "balance", "kind": "balance", "status": "unavailable"}]
    assert channel.prompts[-1] == "selfservice-unavailable"


def test_vip_caller_goes_to_the_vip_queue_with_priority() -> None:
    channel = FakeIvrChannel(caller="13900000005")
    exit_ = run(channel)
    assert exit_ == Exit("queued", "vip", "vip", 10)
    assert channel.prompts == ["vip-greeting"] and channel.barge_in == [False]
    assert channel.data("ivr.branch")[1] == {"node": "who", "to": "vip", "why": "vip"}


@pytest.mark.parametrize(("now", "why"), [
    (local(23), "closed"), (local(7), "closed"), (local(9), "morning"), (local(14), "open"),
    (local(14, date(2026, 10, 2)), "holiday"), (local(19, date(2026, 10, 2)), "closed"),
])
def test_business_hours_holidays_and_morning(now: datetime, why: str) -> None:
    channel = FakeIvrChannel(caller="13900000001", now=now)
    run(channel)
    assert channel.data("ivr.branch")[0]["why"] == why
    if why == "closed":
        assert channel.prompts == ["closed"] and channel.hung_up


def test_incident_is_said_first_and_heard_once_per_call() -> None:
    incidents = FakeIncidents(Incident(7, "incident-7", frozenset({"main"})))
    channel = FakeIvrChannel(["9", "0"])
    run(channel, incidents=incidents)
    assert channel.path.count("main") == 2
    assert channel.prompts[:2] == ["incident-7", "main-menu"]
    assert channel.prompts.count("incident-7") == 1
    assert channel.data("incident.heard") == [{"incident": 7, "node": "main"}]


def test_caller_hangup_propagates() -> None:
    channel = FakeIvrChannel(["1"], hang_up_when_done=True)
    with pytest.raises(CallEnded):
        run(channel)
    assert "ivr.exit" not in channel.kinds()


def test_step_limit_stops_an_endless_walk() -> None:
    channel = FakeIvrChannel(["9"] * 20)
    exit_ = run(channel, max_steps=6)
    assert exit_ == Exit("step_limit", "main") and channel.hung_up


def test_speed_line_start() -> None:
    channel = FakeIvrChannel(["123456#", "*", "0"])
    run(channel, start="pw")
    assert channel.path[:3] == ["pw", "balance", "self"]


def test_template_formats() -> None:
    assert set(FORMATS) == set(TEMPLATE_FORMATS)
    lookup = flow_from("""\
        start: a
        nodes:
          a: {type: lookup, kind: bill, say: "{month:month}月{amount_fen:amount},{used:data},{n:number}个,{d:date}",
              next: b}
          b: {type: hangup}
        """).nodes["a"]
    assert isinstance(lookup, Lookup)
    values = {"month": "2026-11", "amount_fen": 8800, "used": 3584, "n": 12, "d": date(2026, 11, 24)}
    assert render_template(lookup.say, values) == "十一月八十八元整,三点五GB,十二个,十一月二十四日"
    assert render_template(lookup.say, {**values, "month": None}).startswith("本月")
    with pytest.raises(KeyError):
        render_template(lookup.say, {})


def test_the_call_flow_makes_one_runner_per_flow_version(monkeypatch: pytest.MonkeyPatch) -> None:
    """A runner is needed per call: the call flow makes one per flow version (making one checks the whole
    flow), and a new one for a reloaded flow (a new object)."""
    import engine.ivr.runner as runner_module
    from engine.ivr.call_flow import RunnerPerFlow

    checked: list[object] = []
    real_check = runner_module.check_flow

    def counting(flow: object) -> object:
        checked.append(flow)
        return real_check(flow)  # type: ignore[arg-type]

    monkeypatch.setattr(runner_module, "check_flow", counting)
    runner_for = RunnerPerFlow(IvrServices(FakeSelfService(results=BALANCE), FakeIncidents()))
    loaded, reloaded = flow_from(FLOW_TEXT), flow_from(FLOW_TEXT)
    first = runner_for(loaded)
    assert runner_for(loaded) is first and runner_for(loaded) is first
    assert runner_for(reloaded) is not first and runner_for(reloaded).flow is reloaded
    assert [id(flow) for flow in checked] == [id(loaded), id(reloaded)]
