"""A caller dials the hotline: Asterisk hands the call to the controller, which greets and journals it."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.store.queries import CallSummary, call_events, recent_calls
from engine.testcall import CallReport, place_call
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until


def dial(pbx: Pbx, number: str | None = None, **kwargs: Any) -> CallReport:
    # Enough for the longest default path: greeting, agent prompt, message offer and its timeout, apology.
    kwargs.setdefault("max_call_s", 60)
    return asyncio.run(place_call(target_port=pbx.settings.pbx.sip_port,
                                  dialed=number or pbx.settings.hotline_number, **kwargs))


def journaled_call(pbx: Pbx, caller: str, outcome: str | None = None, timeout: float = 15) -> CallSummary:
    engine = pbx.journal()

    def find() -> CallSummary | None:
        # The caller's newest call is the one the test just made: an older call of the same number (tests
        # share the sample caller) must not stand in for it while its end is still on its way to the journal.
        newest = next((row for row in recent_calls(engine, 50) if row.caller == caller), None)
        if newest is not None and (outcome is None or newest.outcome == outcome):
            return newest
        return None

    try:
        return wait_until(find, timeout, f"call from {caller} with outcome {outcome} in the journal")
    finally:
        engine.dispose()


def event_kinds(pbx: Pbx, call_id: int) -> list[str]:
    engine = pbx.journal()
    try:
        return [e.kind for e in call_events(engine, call_id)]
    finally:
        engine.dispose()


def test_caller_is_greeted_and_call_is_journaled(pbx: Pbx) -> None:
    """200 OK, the caller hears the greeting and asks for an agent (0), the hotline says no agent is free
    yet (the ACD comes later) and hangs up; the journal has every step in order."""
    with pbx.controller():
        report = dial(pbx, caller_id="13600000001", keys=["0"], first_key_delay_s=2.5)
        assert report.status == 200 and report.answered, report
        assert report.ended_by == "hotline", report
        assert report.audio.voiced_seconds > 1.0, report.audio
        assert len(report.audio.segments) >= 2, report.audio  # greeting, then the agent prompts

        call = journaled_call(pbx, "13600000001", "completed")
    assert call.dialed == pbx.settings.hotline_number
    assert call.source == "controller"
    assert call.answered_at is not None and call.ended_at is not None
    # The dialplan answered before Stasis(): the channel came up, so the answer is journaled at the call's start.
    assert call.answered_at == call.started_at <= call.ended_at
    kinds = event_kinds(pbx, call.id)
    assert kinds[:2] == ["call.started", "call.answered"] and kinds[-1] == "call.ended"
    assert "prompt.played" in kinds and "queue.requested" in kinds


def test_caller_hanging_up_early_is_journaled_as_abandoned(pbx: Pbx) -> None:
    """A caller who hangs up during the greeting leaves an 'abandoned' call with its hangup cause."""
    with pbx.controller():
        report = dial(pbx, caller_id="13600000002", hangup_after_s=1.0)
        assert report.answered and report.ended_by == "caller", report
        call = journaled_call(pbx, "13600000002", "abandoned")
    assert call.hangup_cause == "normal_clearing"
    assert event_kinds(pbx, call.id)[-1] == "call.ended"


def test_fallback_prompt_when_controller_is_down(pbx: Pbx) -> None:
    """No controller: the caller still gets the apology prompt, and the call reaches the journal later.
    A caller who says nothing after it leaves no message (tests/pbx/test_fallback_message.py: one who does)."""
    report = dial(pbx, caller_id="13600000003", hangup_after_s=10)
    assert report.answered and report.ended_by == "caller", report
    assert report.audio.voiced_seconds > 1.0, report.audio

    with pbx.controller():
        call = journaled_call(pbx, "13600000003", "fallback")
    assert call.source == "fallback"
    assert event_kinds(pbx, call.id) == ["call.started", "call.answered", "prompt.played", "call.ended"]


def test_misdialled_number_hears_misdial_prompt_and_goes_nowhere(pbx: Pbx) -> None:
    """Anonymous callers are confined: any other number gets the misdial prompt, never a route out."""
    with pbx.controller():
        report = dial(pbx, number="911", caller_id="13600000004")
        assert report.answered and report.ended_by == "hotline", report
        assert report.audio.voiced_seconds > 1.0
    dialplan = pbx.control.cli("dialplan show hotline-inbound")
    assert "Dial" not in dialplan


def test_call_show_cli_lists_events(pbx: Pbx) -> None:
    """`hotline calls` and `hotline call show` read the same journal the controller wrote."""
    with pbx.controller():
        dial(pbx, caller_id="13600000005", keys=["0"])
        call = journaled_call(pbx, "13600000005", "completed")
    listing = hotline(pbx.config_file, "calls").stdout
    assert "136****0005" in listing and "13600000005" not in listing
    shown = hotline(pbx.config_file, "call", "show", str(call.id)).stdout
    assert "call.answered" in shown and "prompt.played" in shown


def test_dtmf_keys_reach_the_journal(pbx: Pbx) -> None:
    """RFC 2833 keys typed during the greeting interrupt it and are journaled as the menu choices they are."""
    with pbx.controller():
        report = dial(pbx, caller_id="13600000006", keys=["9", "0"])
        assert report.answered, report
        call = journaled_call(pbx, "13600000006", "completed")
    engine = pbx.journal()
    try:
        digits = [e.data["digits"] for e in call_events(engine, call.id) if e.kind == "ivr.digits"]
    finally:
        engine.dispose()
    assert digits == ["9", "0"]
