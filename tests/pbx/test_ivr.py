"""The IVR on real calls: SIPp callers press RFC 2833 keys through Asterisk; the journal shows the path."""

from __future__ import annotations

import array
import json
import math
import wave
from pathlib import Path
from typing import Any

from engine.store.queries import call_events, recent_calls
from tests.pbx.conftest import SHIPPED_FLOWS, Pbx, write_test_flows
from tests.pbx.harness import hotline, wait_until
from tests.pbx.test_call_journey import dial, journaled_call


def events(pbx: Pbx, call_id: int) -> list[tuple[str, dict[str, Any]]]:
    engine = pbx.journal()
    try:
        return [(e.kind, dict(e.data)) for e in call_events(engine, call_id)]
    finally:
        engine.dispose()


def nodes(evts: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [d["node"] for kind, d in evts if kind == "ivr.node"]


def night_call_with_lookup(pbx: Pbx, caller: str) -> list[tuple[str, dict[str, Any]]] | None:
    """The events of the caller's call that took the night branch and looked something up (the demo
    caller also calls in other tests of the session)."""
    engine = pbx.journal()
    try:
        calls = [row.id for row in recent_calls(engine, 50) if row.caller == caller]
    finally:
        engine.dispose()
    for call_id in calls:
        evts = events(pbx, call_id)
        if "night" in nodes(evts) and any(k == "lookup.result" for k, _ in evts):
            return evts
    return None


def test_speed_line_balance_with_right_password(pbx: Pbx) -> None:
    """10086 + 11 skips the menus: password, then the balance spoken in Mandarin (synthesized)."""
    with pbx.controller():
        report = dial(pbx, number=pbx.settings.hotline_number + "11", caller_id="13800138000",
                      keys=list("123456#"), key_gap_s=0.3, max_call_s=60)
        assert report.answered, report
        call = journaled_call(pbx, "13800138000", timeout=60)
        wait_until(lambda: any(k == "lookup.result" for k, _ in events(pbx, call.id)), 30, "the look-up")
    evts = events(pbx, call.id)
    assert nodes(evts)[:2] == ["auth_balance", "balance"]
    assert ("password.checked", {"node": "auth_balance", "ok": True}) in evts
    assert ("lookup.result", {"node": "balance", "kind": "balance", "status": "ok"}) in evts
    played = [d["prompt"] for k, d in evts if k == "prompt.played"]
    assert any(p.startswith("tts/") for p in played), played
    assert "123456" not in str(evts)  # the password is never journaled in clear
    assert report.audio.voiced_seconds > 3


def test_menu_to_balance_with_wrong_password_twice(pbx: Pbx) -> None:
    """Menu 1 then 1, two wrong passwords: '请您查证后再来电' and the call ends."""
    with pbx.controller():
        keys = ["1", "1", *"111111#", *"222222#"]
        report = dial(pbx, caller_id="13800138000", keys=keys, key_gap_s=1.0, max_call_s=90)
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13800138000", "completed", timeout=30)
    evts = events(pbx, call.id)
    assert nodes(evts)[-3:] == ["self_service", "auth_balance", "goodbye"]
    checks = [d["ok"] for k, d in evts if k == "password.checked"]
    assert checks == [False, False]
    assert "111111" not in str(evts) and "222222" not in str(evts)


def test_vip_caller_goes_to_the_vip_line(pbx: Pbx) -> None:
    """A caller ID on the VIP list hears the VIP greeting and is queued on the VIP line."""
    with pbx.controller():
        report = dial(pbx, caller_id="13900000001", max_call_s=60)
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13900000001", "completed", timeout=30)
    evts = events(pbx, call.id)
    assert "vip_line" in nodes(evts)
    assert any(k == "queue.requested" and d["queue"] == "vip" for k, d in evts)
    assert any(k == "prompt.played" and d["prompt"] == "vip-greeting" for k, d in evts)


def test_invalid_key_then_timeouts_fall_back_to_an_agent(pbx: Pbx) -> None:
    """A wrong key is refused with the invalid-input prompt; silence then re-prompts until the fallback."""
    with pbx.controller():
        report = dial(pbx, caller_id="13700000001", keys=["7"], max_call_s=120)
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13700000001", "completed", timeout=30)
    evts = events(pbx, call.id)
    assert ("ivr.digits", {"node": "main_menu", "digits": "7", "valid": False}) in evts
    assert any(k == "ivr.timeout" for k, _ in evts)
    assert any(k == "ivr.fallback" and d["node"] == "main_menu" for k, d in evts)
    assert "agent" in nodes(evts)


def test_incident_announcement_is_heard_and_counted(pbx: Pbx) -> None:
    """`hotline incident start` mounts an announcement on a node at once; callers hearing it are counted."""
    started = hotline(pbx.config_file, "incident", "start", "--text", "因光缆故障,部分地区宽带中断,预计今晚修复。",
                      "--nodes", "main_menu")
    incident_id = int(started.stdout.strip())
    try:
        with pbx.controller():
            report = dial(pbx, caller_id="13700000002", keys=["0"], first_key_delay_s=1.0, max_call_s=90)
            assert report.answered, report
            call = journaled_call(pbx, "13700000002", "completed", timeout=60)
        evts = events(pbx, call.id)
        assert any(k == "incident.heard" and d["incident"] == incident_id for k, d in evts), evts
        listing = json.loads(hotline(pbx.config_file, "incident", "list", "--json").stdout)
        assert [row["heard"] for row in listing if row["id"] == incident_id] == [1]
    finally:
        hotline(pbx.config_file, "incident", "stop", str(incident_id))


def test_night_hours_keep_self_service_open_and_hot_reload(pbx: Pbx) -> None:
    """Outside agent hours a caller hears the short night notice, still gets their balance through the menu,
    and 0 leads to the night plan (the night queue; nobody there: the message/callback offer). Editing the
    flow file takes effect without a restart; a broken edit keeps the last good flow."""
    flows_dir = pbx.settings.flows_folder
    with pbx.controller() as controller:
        write_test_flows(flows_dir, hours="closed")
        wait_until(lambda: "flows reloaded" in controller.output(), 15, "the flow reload")
        report = dial(pbx, caller_id="13800138000", keys=["1", "1", *"123456#"], key_gap_s=1.0, max_call_s=60,
                      hangup_after_s=25)
        assert report.answered, report
        evts = wait_until(lambda: night_call_with_lookup(pbx, "13800138000"), 30, "the look-up at night")
        assert nodes(evts)[:6] == ["hours", "night", "main_menu", "self_service", "auth_balance", "balance"]
        assert ("lookup.result", {"node": "balance", "kind": "balance", "status": "ok"}) in evts
        night_notice = next(d for k, d in evts if k == "prompt.played" and d["prompt"] == "night-service")
        assert night_notice.get("interrupted") or night_notice["ms"] < 8000, night_notice  # short, not 24 s

        report = dial(pbx, caller_id="13700000003", keys=["0"], max_call_s=60)
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13700000003", "completed", timeout=30)
        evts = events(pbx, call.id)
        assert nodes(evts)[:5] == ["hours", "night", "main_menu", "agent", "night_line"], nodes(evts)
        assert ("queue.closed", {"queue": "night", "why": "no agent signed in"}) in evts
        assert nodes(evts)[-2:] == ["night_unserved", "no_agent"]  # no key pressed at the offer: the apology
        assert any(k == "prompt.played" and d["prompt"].startswith("offer-") for k, d in evts), evts

        (flows_dir / "hotline.yaml").write_text("flow: hotline\nstart: nowhere\nnodes: {}\n")
        wait_until(lambda: "flow reload refused" in controller.output(), 15, "the refused reload")
        dial(pbx, caller_id="13700000004", max_call_s=60, hangup_after_s=6)
        call = journaled_call(pbx, "13700000004", timeout=30)
        wait_until(lambda: len(nodes(events(pbx, call.id))) >= 2, 15, "the night branch")
        assert nodes(events(pbx, call.id))[:2] == ["hours", "night"]  # the last good version answered
    write_test_flows(flows_dir)
    assert (SHIPPED_FLOWS / "hotline.yaml").exists()


def test_caller_leaves_a_message_when_no_agent_is_signed_in(pbx: Pbx) -> None:
    """Nobody serves the queue: the caller presses 1, speaks after the beep, and the message is stored
    as a work item with a recording of their voice (file not world-readable)."""
    with pbx.controller():
        # 0 for an agent, 1 during the message offer; SIPp starts speaking one key gap after the 1, which
        # with the shipped prompt lengths is just after the beep. (SIPp sends no RTP between captures, and
        # Asterisk ends a recording after 2 s without any audio frame.)
        report = dial(pbx, caller_id="13700000020", keys=["0", "1"], key_gap_s=7.2, speak=True, max_call_s=90)
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13700000020", "completed", timeout=30)
    evts = events(pbx, call.id)
    assert any(k == "queue.closed" for k, _ in evts), evts
    saved = [d for k, d in evts if k == "message.saved"]
    assert saved, evts
    listing = json.loads(hotline(pbx.config_file, "messages", "list", "--json").stdout)
    message = next(m for m in listing if m["id"] == saved[0]["message"])
    assert message["caller"] == "13700000020" and message["seconds"] > 2, message
    recording = Path(message["file"])
    assert (recording.stat().st_mode & 0o077) == 0
    with wave.open(str(recording)) as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
    assert rms > 300, rms  # the caller's voice, not silence
