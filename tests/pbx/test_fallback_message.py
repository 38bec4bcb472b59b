"""Degraded service: with no controller a caller hears the apology and leaves a message, which becomes a
work item with their number once the controller is back, exactly once."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from engine.store.queries import recent_calls
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until
from tests.pbx.test_call_journey import dial, event_kinds, journaled_call

CALLER = "13600000031"


def _messages(pbx: Pbx) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(hotline(pbx.config_file, "messages", "list", "--all", "--json").stdout)
    return [r for r in rows if r["caller"] == CALLER]


def test_caller_leaves_a_message_while_no_controller_runs(pbx: Pbx) -> None:
    """No controller: apology, message prompt, beep, the caller speaks 7 s and hangs up. Started later, the
    controller lists the message (caller's number, length, 0600 file) and journals the call once; a
    second controller start takes in nothing twice."""
    # The speech starts once the apology (6.5 s in Mandarin), the message prompt (7.3 s) and the beep are
    # over, ~15 s after the answer; then 7 s of it, and the caller hangs up without pressing #.
    report = dial(pbx, caller_id=CALLER, first_key_delay_s=16.0, speak=True, hangup_after_s=24)
    assert report.answered and report.ended_by == "caller", report
    assert report.audio.voiced_seconds > 3.0, report.audio  # apology and message prompt heard

    with pbx.controller():
        call = journaled_call(pbx, CALLER, "fallback")
        rows = wait_until(lambda: _messages(pbx), 15, "the fallback message in `hotline messages list`")
    assert len(rows) == 1, rows
    message = rows[0]
    assert message["call_uid"] and message["seconds"] > 5.0, message
    path = Path(message["file"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "message.saved" in event_kinds(pbx, call.id)

    # A second start reads nothing again: still one message, one journaled call.
    with pbx.controller():
        journaled_call(pbx, CALLER, "fallback")
    assert len(_messages(pbx)) == 1
    engine = pbx.journal()
    try:
        assert sum(1 for c in recent_calls(engine, 200) if c.caller == CALLER) == 1
    finally:
        engine.dispose()
