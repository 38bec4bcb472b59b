"""The controller survives Asterisk restarts and re-adopts calls after its own crash."""

from __future__ import annotations

import threading

from engine.pbx.ari import REST_RESPONSE
from engine.pbx.ari_events import ACTED_ON
from engine.testcall import CallReport
from tests.pbx.conftest import Pbx
from tests.pbx.harness import app_details, app_registered, hotline, wait_until
from tests.pbx.test_call_journey import dial, event_kinds, journaled_call


def allowed_events(pbx: Pbx) -> set[str]:
    details = app_details(pbx.settings) or {}
    return {str(allowed["type"]) for allowed in details.get("events_allowed", [])}


# The event types the controller acts on, and the answers to its REST requests over the events websocket.
WANTED = {*ACTED_ON, REST_RESPONSE}


def test_next_call_is_handled_after_asterisk_restarts(pbx: Pbx) -> None:
    """`core restart now` under a connected controller: it reconnects and handles the next call. Its app
    asks Asterisk for the event types it acts on alone, again after the restart (the app is new there), and
    sends its REST requests over the events websocket, again on the new connection."""
    with pbx.controller() as controller:
        wait_until(lambda: allowed_events(pbx) == WANTED, 10, "the controller to filter its app's events")
        pbx.control.restart_now()
        pbx.control.wait_fully_booted(60)
        wait_until(lambda: app_registered(pbx.settings), 30, "the controller to re-register after restart")
        report = dial(pbx, caller_id="13600000011", keys=["0"])
        assert report.answered and report.ended_by == "hotline", report
        journaled_call(pbx, "13600000011", "completed")
        assert allowed_events(pbx) == WANTED
    # The log file is the worker's: this controller's part starts at its last "running" line.
    output = controller.output()
    this_run = output[output.rindex("hotline controller running"):]
    assert "ARI events lost" in this_run
    assert this_run.count("ARI REST requests go over the events websocket") == 2, this_run


def test_crashed_controller_calls_are_readopted(pbx: Pbx) -> None:
    """A caller in the app when the controller dies is picked up by the next controller, not left silent."""
    controller = pbx.controller().start()
    result: list[CallReport] = []
    # The caller asks for an agent only once the second controller has the call.
    caller = threading.Thread(target=lambda: result.append(
        dial(pbx, caller_id="13600000012", keys=["0"], first_key_delay_s=10, max_call_s=60)))
    caller.start()
    try:
        journaled_call(pbx, "13600000012")  # the first controller has the call
        controller.kill()
        controller.start()
        caller.join(75)
    finally:
        controller.stop()
    assert result and result[0].ended_by == "hotline", result
    call = journaled_call(pbx, "13600000012", "completed")
    assert "call.readopted" in event_kinds(pbx, call.id)


def test_a_second_controller_is_refused_with_a_clear_error(pbx: Pbx) -> None:
    """Two controllers on one Stasis app would both answer the same callers: the second one refuses."""
    with pbx.controller():
        second = hotline(pbx.config_file, "run", check=False, timeout=30)
    assert second.returncode == 1, second
    assert "already running" in second.stderr and "Traceback" not in second.stderr, second.stderr
