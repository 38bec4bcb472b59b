"""The benchmark's pure parts: percentiles, summary and ratios, the report, and the SIPp/CLI parsers."""

from __future__ import annotations

import argparse

import pytest

from bench.pbx_session import active_channels
from bench.report import StepResult, markdown, percentile, step_result, summarize, to_json
from bench.run import parse_args, parse_rates
from bench.sipp_load import scenario_xml
from bench.sipp_parse import parse_message_log, parse_stat_csv

PARAMS = {"cpus": 2, "seconds": 8, "hold": 3.0, "number": "10086"}


def step(path: str, rate: int, ok: int | None = None,
         times: tuple[float, ...] = (4.0, 5.0, 6.0)) -> StepResult:
    planned = rate * 8
    return step_result(path, rate, 8, planned, planned, planned if ok is None else ok, list(times),
                       peak_channels=rate * 3)


def test_percentile_interpolates_between_ranks() -> None:
    assert percentile([], 95) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(map(float, range(1, 101))), 95) == pytest.approx(95.05)
    assert percentile([3.0, 1.0, 2.0], 100) == 3.0
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_failed_counts_every_planned_call_that_did_not_succeed() -> None:
    s = step_result("hotline", 10, 8, planned=80, attempted=75, successful=70, answer_ms=[1.0])
    assert s.failed == 10 and not s.clean
    assert step("hotline", 10).clean


def test_summary_takes_the_highest_rate_below_the_first_failure() -> None:
    steps = [step("hotline", 10), step("hotline", 20, times=(8.0, 10.0)), step("hotline", 40, ok=300),
             step("baseline", 10), step("baseline", 20, times=(2.0, 4.0)),
             step("baseline", 40, times=(3.0, 5.0)), step("baseline", 60, ok=470)]
    summary = summarize(steps, highest_rate_tried=60)
    hotline, baseline = summary.paths["hotline"], summary.paths["baseline"]
    assert (hotline.max_clean_rate, baseline.max_clean_rate) == (20, 40)
    assert not hotline.lower_bound and not baseline.lower_bound
    assert hotline.p95_ms == pytest.approx(9.9) and baseline.p95_ms == pytest.approx(4.9)
    assert summary.rate_ratio == pytest.approx(0.5)
    assert summary.p95_ratio == pytest.approx(9.9 / 4.9)
    # Latency at the same load: both paths at 20 calls/s.
    assert summary.common_rate == 20
    assert summary.p95_ratio_at_common_rate == pytest.approx(9.9 / 3.9)


def test_summary_marks_a_rate_that_was_never_exceeded_as_a_lower_bound() -> None:
    summary = summarize([step("hotline", 10), step("baseline", 10)], highest_rate_tried=10)
    assert summary.paths["hotline"].lower_bound and summary.rate_ratio == 1.0


def test_summary_when_a_path_fails_at_once() -> None:
    summary = summarize([step("hotline", 10, ok=0, times=()), step("baseline", 10)], highest_rate_tried=10)
    assert summary.paths["hotline"].max_clean_rate is None
    assert summary.rate_ratio is None and summary.common_rate is None
    assert summary.p95_ratio_at_common_rate is None


def test_markdown_and_json_carry_every_step() -> None:
    steps = [step("hotline", 10), step("baseline", 10)]
    summary = summarize(steps, highest_rate_tried=20)
    text = markdown(steps, summary, PARAMS)
    assert "| hotline | 10 | 80 | 80 | 80 | 0 | 5.0 | 5.9 | 6.0 | 30 | – |" in text
    assert "| baseline | 10 | 80 |" in text
    assert "| hotline | 10 | 5.9 |" in text
    assert "710086" in text
    data = to_json(steps, summary, PARAMS)
    assert [s["clean"] for s in data["steps"]] == [True, True]
    assert data["summary"]["paths"]["hotline"]["max_clean_rate"] == 10


def test_markdown_explains_each_failed_step() -> None:
    failed = step_result("hotline", 60, 8, planned=480, attempted=470, successful=450, answer_ms=[9.0],
                         sipp_exit=1, failure_causes={"TimeoutOnRecv": 15, "UnexpectedMessage": 5})
    steps = [step("hotline", 40), failed, step("baseline", 40), step("baseline", 60)]
    text = markdown(steps, summarize(steps, highest_rate_tried=60), PARAMS)
    assert ("- hotline at 60 calls/s: 30 failed (15 TimeoutOnRecv, 5 UnexpectedMessage; SIPp exit 1, "
            "only 470 placed)") in text
    assert "| baseline | ≥ 60 |" in text and "| hotline | 40 |" in text


def test_stat_csv_last_row_cumulative_counters() -> None:
    header = "StartTime;TotalCallCreated;SuccessfulCall(P);SuccessfulCall(C);FailedCall(C);" \
             "Retransmissions(C);GenericCounter1(C);FailedTimeoutOnRecv(P);FailedTimeoutOnRecv(C);" \
             "FailedUnexpectedMessage(C)"
    text = f"{header}\nx;3;3;3;0;0;0;0;0;0\nx;8;2;7;1;4;2;0;1;0\n"
    c = parse_stat_csv(text)
    assert (c.created, c.successful, c.failed, c.retransmissions, c.remote_hangups) == (8, 7, 1, 4, 2)
    assert c.failure_causes == {"TimeoutOnRecv": 1}
    with pytest.raises(ValueError):
        parse_stat_csv(header + "\n")


SENT, INVITE = "sent (500 bytes)", "INVITE sip:10086@127.0.0.1 SIP/2.0"


def _message(stamp: str, direction: str, start: str, call_id: str, cseq: str) -> str:
    return (f"----------------------------------------------- 2026-11-23 {stamp}\n"
            f"UDP message {direction}:\n\n{start}\nVia: SIP/2.0/UDP 127.0.0.1:5060\nCall-ID: {call_id}\n"
            f"CSeq: {cseq}\nContent-Length: 0\n\nv=0\nCSeq: 9 BYE\n\n")


def test_message_log_gives_invite_to_200_per_call() -> None:
    log = "".join([
        _message("10:00:00.100000", SENT, INVITE, "a", "1 INVITE"),
        _message("10:00:00.100500", "received [300] bytes ", "SIP/2.0 100 Trying", "a", "1 INVITE"),
        # A retransmitted INVITE does not restart the clock.
        _message("10:00:00.600000", SENT, INVITE, "a", "1 INVITE"),
        _message("10:00:00.603250", "received [700] bytes ", "SIP/2.0 200 OK", "a", "1 INVITE"),
        _message("10:00:00.603300", "received [700] bytes ", "SIP/2.0 200 OK", "a", "1 INVITE"),
        _message("10:00:00.200000", SENT, INVITE, "b", "1 INVITE"),
        _message("10:00:03.300000", "received [300] bytes ", "SIP/2.0 200 OK", "b", "2 BYE"),
        # Never answered: no time at all.
        _message("10:00:00.300000", SENT, INVITE, "c", "1 INVITE"),
    ])
    assert parse_message_log(log) == [pytest.approx(503.25)]


def test_scenario_bounds_every_wait() -> None:
    xml = scenario_xml(hold_ms=3000, answer_timeout_ms=8000, bye_timeout_ms=7000)
    assert 'recv request="BYE" timeout="3000" ontimeout="caller_hangs_up"' in xml
    assert 'rtd="answer" timeout="8000"' in xml and 'timeout="7000"' in xml
    assert "m=audio [media_port] RTP/AVP 0" in xml


def test_channel_count_and_rates_parsing() -> None:
    assert active_channels("12 active channels\n4 active calls\n90 calls processed\n") == 12
    assert active_channels("1 active channel\n") == 1
    assert active_channels("No such command\n") is None
    assert parse_rates("40, 10,20,10") == [10, 20, 40]
    for bad in ("", "ten", "0,5"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_rates(bad)


def test_short_and_full_runs_and_their_overrides() -> None:
    short = parse_args([])
    assert (short.seconds, short.min_step, short.max_probes, short.full) == (8, 10, 2, False)
    assert short.rates == [10, 20, 40, 60, 80, 100] and short.thresholds.answer_p95_ms == 100
    full = parse_args(["--full"])
    assert (full.seconds, full.min_step, full.max_probes) == (60, 5, 4) and max(full.rates) == 150
    custom = parse_args(["--full", "--seconds", "90", "--rates", "5,10", "--max-probes", "0",
                         "--answer-p95-ms", "50", "--channel-tolerance", "1.5"])
    assert (custom.seconds, custom.rates, custom.max_probes) == (90, [5, 10], 0)
    assert (custom.thresholds.answer_p95_ms, custom.thresholds.channel_tolerance) == (50, 1.5)
    for bad in (["--channel-tolerance", "0.5"], ["--max-probes", "-1"], ["--answer-p95-ms", "0"]):
        with pytest.raises(SystemExit):
            parse_args(bad)
