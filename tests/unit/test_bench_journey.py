"""The journey benchmark's pure parts: journal figures, queue_log hold times, caller split, knee, CPU reading."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.criterion import Check, Condition, Observation, Thresholds, Verdict, judge
from bench.journey_callers import split
from bench.journey_measure import (
    Event,
    box_ticks,
    busy_share,
    cpu_pressure_us,
    cpu_seconds,
    facts,
    password_check_cpu_s,
    recordings_since,
    steal_ticks,
)
from bench.journey_report import knee, markdown
from bench.journey_step import (
    CHANNELS_PER_CALL,
    GC_FIGURES,
    LOOP_FIGURES,
    JourneyStep,
    Spread,
    ari_traffic,
    gc_step,
    loop_step,
    queue_log_waits,
    status_figures,
)

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_facts_from_a_call_that_reached_an_agent_and_one_that_did_not() -> None:
    events = [
        Event(1, "ivr.digits", at(2.0), {"digits": "0"}),
        Event(1, "prompt.played", at(4.05), {"prompt": "to-agent", "ms": 2000}),  # started 50 ms after the key
        Event(1, "queue.entered", at(4.1), {}),
        Event(1, "queue.offered", at(4.2), {"agent": "3001"}),
        Event(1, "queue.answered", at(4.6), {"agent": "3001"}),
        Event(2, "queue.entered", at(5.0), {}),
        Event(3, "queue.answered", at(9.0), {}),  # another call's: not counted
        Event(2, "password.checked", at(5.5), {"ok": True}),
        Event(2, "password.checked", at(5.6), {"ok": True, "remembered": True}),  # no hash run: not a check
    ]
    result = facts(events, [1, 2])
    assert result.calls == 2 and result.reached_agent == 1 and result.rows == 8
    assert result.password_checks == 1
    assert [round(w, 3) for w in result.queue_wait_s] == [0.5]
    assert [round(r, 3) for r in result.ring_answer_s] == [0.4]
    assert [round(k) for k in result.key_prompt_ms] == [50]
    assert result.password_key_prompt_ms == []
    assert [round(k) for k in result.other_key_prompt_ms] == [50]


def test_keys_that_end_a_password_are_told_apart() -> None:
    """Their prompt waits for the password check: the report shows them apart from the menu keys."""
    events = [
        Event(1, "ivr.digits", at(2.0), {"digits": "1"}),
        Event(1, "prompt.played", at(3.01), {"prompt": "ask-password", "ms": 1000}),  # 10 ms after the key
        Event(1, "ivr.digits", at(6.0), {"digits": "123456"}),
        Event(1, "password.checked", at(6.07), {"ok": True}),
        Event(1, "prompt.played", at(8.09), {"prompt": "balance", "ms": 2000}),  # 90 ms after the key
    ]
    result = facts(events, [1])
    assert [round(k) for k in result.key_prompt_ms] == [10, 90]
    assert [round(k) for k in result.password_key_prompt_ms] == [90]
    assert [round(k) for k in result.other_key_prompt_ms] == [10]


def test_the_greeting_is_timed_from_the_calls_start_to_its_first_prompt() -> None:
    """The dialplan answers, so INVITE->200 does not see the controller: the silence before the greeting does."""
    events = [
        Event(1, "call.started", at(1.0), {}),
        Event(1, "call.answered", at(1.0), {}),
        Event(1, "prompt.played", at(4.03), {"prompt": "greeting", "ms": 3000}),  # began 30 ms after the start
        Event(1, "prompt.played", at(6.0), {"prompt": "main-menu", "ms": 1500}),  # not a greeting
        Event(2, "call.started", at(2.0), {}),  # hung up before any prompt: nothing to time
        Event(3, "prompt.played", at(3.0), {"prompt": "greeting", "ms": 500}),  # a re-adopted call: no start
    ]
    assert [round(g) for g in facts(events, [1, 2, 3]).greeting_ms] == [30]


def test_calls_with_a_saved_recording_are_counted_once() -> None:
    events = [
        Event(1, "recording.started", at(5.0), {}),
        Event(1, "recording.saved", at(15.0), {}),
        Event(1, "recording.saved", at(16.0), {}),  # a second conversation (a transfer): still one call
        Event(2, "recording.started", at(6.0), {}),  # never saved
    ]
    assert facts(events, [1, 2]).recorded == 1


def test_baseline_recordings_written_in_the_step_are_counted(tmp_path: Path) -> None:
    old, new = tmp_path / "old.wav", tmp_path / "new.wav"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a recording")
    os.utime(old, (1000, 1000))
    os.utime(new, (2000, 2000))
    assert recordings_since(tmp_path, since=1500) == 1
    assert recordings_since(tmp_path / "absent", since=0) == 0


def test_queue_log_connect_hold_times_after_the_step_start() -> None:
    text = "\n".join([
        "1000|1.1|hotline-bench|PJSIP/agent-3001|CONNECT|3|1.2|0",
        "2000|2.1|hotline-bench|NONE|ENTERQUEUE||13500000000|1",
        "2001|2.1|hotline-bench|PJSIP/agent-3002|CONNECT|1|2.2|0",
    ])
    assert queue_log_waits(text, since=1500) == [1.0]


def test_callers_split_between_the_two_kinds() -> None:
    assert split(20, 0.25) == {"agent": 15, "self-service": 5}
    assert split(7, 0.0) == {"agent": 7, "self-service": 0}


def step(path: str, rate: float, ok: bool) -> JourneyStep:
    verdict = Verdict((Check(Condition.COMPLETED, ok, "x"),))
    none = Spread(None, None, None)
    return JourneyStep(path=path, rate=rate, seconds=10, planned=10, completed=10, reached_agent=None,
                       retransmissions=0, answer_ms=Spread(1, 2, 3), key_prompt_ms=none, queue_wait_s=none,
                       ring_answer_ms=none, peak_channels=4, asterisk_cpu_s=0.5, controller_cpu_s=0.05,
                       controller_rss_mib=80, journal_rows_per_s=10, wall_s=20, verdict=verdict,
                       password_checks=2 if path == "journey" else None, password_check_cpu_s=0.01,
                       recorded=9 if path == "app_queue" else None, connected=10,
                       ari_requests=165 if path == "journey" else None, ari_events=150 if path == "journey" else None,
                       box_busy=0.62 if path == "journey" else 0.9, box_steal=0.05 if path == "journey" else 0.0,
                       cpu_pressure=0.213 if path == "journey" else None,
                       gc={"collections": 40, "full": 1, "total_ms": 12.5, "longest_ms_since_start": 9.0}
                       if path == "journey" else None,
                       loop={"checks": 600, "late": 3, "total_lag_ms": 812.4, "longest_ms_since_start": 310.0,
                             "longest_running": 0.25} if path == "journey" else None)


def test_knee_is_the_highest_sustained_rate_below_the_first_failure_and_the_report_says_so() -> None:
    steps = [step("journey", 1, True), step("journey", 2, True), step("journey", 4, False),
             step("journey", 3, True), step("app_queue", 1, True), step("app_queue", 2, True)]
    assert knee(steps, "journey") == (3, 4)
    assert knee(steps, "app_queue") == (2, None)
    text = markdown(steps, {"command": "x", "started": "t", "duration_s": 1, "cpus": 2,
                            "load_average_before": [1, 1, 1], "asterisk": "Asterisk", "agents": 5,
                            "answer_after_s": 0.3, "talk_s": 2, "acw_s": 1, "seconds": 10, "share": 0.25})
    assert "ratio journey / app_queue: 1.50" in text
    assert "**Controller CPU per call**: 5.0 ms" in text
    # 0.05 s less two checks of 10 ms over 10 calls
    assert "without the service-password checks: 3.0 – 3.0 ms (one check: 10,000.0 µs of CPU" in text
    assert "| 5.0 | 3.0 (2) |" in text
    assert "| app_queue | 1 | 10/10 | 9/10 |" in text and "| journey | 1 | 10/10 | – |" in text
    assert "- journey at 3/s: 16.5 requests, 15.0 events" in text
    assert "- journey at 3/s: 40 collections, 1 of them full, 12.5 ms in all (1.25 ms per call); longest since " \
           "start 9.0 ms" in text
    assert "- journey at 3/s: 3 of 600 wake-ups late, 812 ms of lag in all; longest since start 310 ms, its " \
           "thread running 25% of it" in text
    assert "| 62% (5%) / 21 | not: completed |" in text and "| 90% / – | sustained |" in text


def test_the_controllers_ari_traffic_is_read_from_its_live_status(tmp_path: Path) -> None:
    status = tmp_path / "live-status.json"
    assert ari_traffic(None) is None and ari_traffic(status) is None  # no file (yet)
    status.write_text('{"at": "t", "ari": {"requests": 12, "events": 30}}', encoding="utf-8")
    assert ari_traffic(status) == (12, 30)
    status.write_text('{"at": "t", "queues": []}', encoding="utf-8")  # a controller that does not count
    assert ari_traffic(status) is None
    status.write_text('{"at": "t", "ari"', encoding="utf-8")  # caught while being replaced
    assert ari_traffic(status) is None


def test_the_controllers_collections_are_read_from_its_live_status(tmp_path: Path) -> None:
    status = tmp_path / "live-status.json"
    assert status_figures(status, "gc", GC_FIGURES) is None
    status.write_text('{"gc": {"collections": 10, "full": 1, "total_ms": 4.5, "longest_ms": 3.0}}', encoding="utf-8")
    before = status_figures(status, "gc", GC_FIGURES)
    assert status_figures(status, "loop", LOOP_FIGURES) is None  # a controller that does not watch its loop
    status.write_text('{"gc": {"collections": 25, "full": 2, "total_ms": 9.0, "longest_ms": 3.5}}', encoding="utf-8")
    assert gc_step(before, status_figures(status, "gc", GC_FIGURES)) == {"collections": 15, "full": 1,
                                                                         "total_ms": 4.5, "longest_ms_since_start": 3.5}
    assert gc_step(None, before) is None


def test_the_controllers_loop_lag_over_a_step() -> None:
    before = {"checks": 100.0, "late": 1.0, "total_lag_ms": 50.0, "longest_ms": 120.0, "longest_running": 0.5}
    after = {"checks": 700.0, "late": 4.0, "total_lag_ms": 900.0, "longest_ms": 400.0, "longest_running": 0.1}
    assert loop_step(before, after) == {"checks": 600, "late": 3, "total_lag_ms": 850.0,
                                        "longest_ms_since_start": 400.0, "longest_running": 0.1}
    assert loop_step(before, None) is None


def test_a_password_check_is_timed_in_cpu_seconds() -> None:
    assert 0 < password_check_cpu_s(samples=1) < 0.01  # a keyed HMAC: microseconds, not scrypt's tens of ms


def test_cpu_seconds_of_this_process_and_of_none() -> None:
    assert (cpu_seconds(os.getpid()) or 0) > 0
    assert cpu_seconds(None) is None


def test_two_channels_a_call_are_expected_and_a_pile_up_still_fails() -> None:
    """A call holds the caller's and the agent's channel (both paths record with MixMonitor, no channel of
    its own): a 1 call/s step of 22 s calls peaking at 44 channels is sustained, twice that is not."""
    call_s = 22.0

    def verdict(peak: int) -> Verdict:
        return judge(Observation(rate=1, planned=60, successful=60, failed=0, retransmissions=0, answer_p95_ms=40,
                                 peak_channels=peak, call_seconds=call_s, key_prompt_p95_ms=150,
                                 channels_per_call=CHANNELS_PER_CALL), Thresholds())

    assert verdict(44).sustained
    assert not verdict(88).sustained
    assert verdict(88).failed == (Condition.CHANNELS,)


def test_the_box_busy_share_comes_from_proc_stat_ticks() -> None:
    """user nice system idle iowait irq softirq steal: idle and iowait are not busy."""
    before = box_ticks("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n")
    after = box_ticks("cpu  130 0 60 950 60 0 0 0 0 0\n")
    assert before == (150, 1000) and after == (190, 1200)
    assert busy_share(before, after) == 0.2
    assert busy_share(after, after) == 0.0


def test_cpu_pressure_is_the_total_of_psis_some_line() -> None:
    text = ("some avg10=0.09 avg60=16.26 avg300=26.58 total=718100739\n"
            "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n")
    assert cpu_pressure_us(text) == 718100739
    assert cpu_pressure_us("") is None


def test_stolen_ticks_are_the_eighth_figure_of_the_cpu_line() -> None:
    assert steal_ticks("cpu  100 0 50 800 50 0 0 7 0 0\ncpu0 1 2 3\n") == 7
    assert steal_ticks("cpu  100 0 50 800\n") == 0
