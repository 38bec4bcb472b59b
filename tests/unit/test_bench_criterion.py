"""The sustained criterion and the SIPp parsers it reads, on recorded SIPp output.

The excerpts below were recorded with SIPp 3.6.1 running ``bench.sipp_load``'s caller scenario (1 s hold)
against a SIPp UAS on 127.0.0.1: once answering at once, once answering after 2 s without a 100 Trying
(the way a collapsing PBX answers). The statistics excerpts keep SIPp's full header and two of its rows.
The issue's own collapse (120 calls/s, p95 INVITE->200 2,034 ms, 532 channels for 360 expected, 0 failed
calls) is rebuilt on the same header: the old "0 failed calls" rule passed it, the criterion must not.
"""

from __future__ import annotations

import pytest

from bench.criterion import Condition, Observation, Thresholds, judge
from bench.pbx_session import active_channels
from bench.report import markdown, percentile, step_result, summarize
from bench.sipp_parse import parse_message_trace, parse_stat_csv

SIPP_STAT_HEADER = (
    "StartTime;LastResetTime;CurrentTime;ElapsedTime(P);ElapsedTime(C);TargetRate;CallRate(P);"
    "CallRate(C);IncomingCall(P);IncomingCall(C);OutgoingCall(P);OutgoingCall(C);TotalCallCreated;"
    "CurrentCall;SuccessfulCall(P);SuccessfulCall(C);FailedCall(P);FailedCall(C);"
    "FailedCannotSendMessage(P);FailedCannotSendMessage(C);FailedMaxUDPRetrans(P);FailedMaxUDPRetrans(C);"
    "FailedTcpConnect(P);FailedTcpConnect(C);FailedTcpClosed(P);FailedTcpClosed(C);"
    "FailedUnexpectedMessage(P);FailedUnexpectedMessage(C);FailedCallRejected(P);FailedCallRejected(C);"
    "FailedCmdNotSent(P);FailedCmdNotSent(C);FailedRegexpDoesntMatch(P);FailedRegexpDoesntMatch(C);"
    "FailedRegexpShouldntMatch(P);FailedRegexpShouldntMatch(C);FailedRegexpHdrNotFound(P);"
    "FailedRegexpHdrNotFound(C);FailedOutboundCongestion(P);FailedOutboundCongestion(C);"
    "FailedTimeoutOnRecv(P);FailedTimeoutOnRecv(C);FailedTimeoutOnSend(P);FailedTimeoutOnSend(C);"
    "FailedTestDoesntMatch(P);FailedTestDoesntMatch(C);FailedTestShouldntMatch(P);"
    "FailedTestShouldntMatch(C);FailedStrcmpDoesntMatch(P);FailedStrcmpDoesntMatch(C);"
    "FailedStrcmpShouldntMatch(P);FailedStrcmpShouldntMatch(C);OutOfCallMsgs(P);OutOfCallMsgs(C);"
    "DeadCallMsgs(P);DeadCallMsgs(C);Retransmissions(P);Retransmissions(C);AutoAnswered(P);"
    "AutoAnswered(C);Warnings(P);Warnings(C);FatalErrors(P);FatalErrors(C);WatchdogMajor(P);"
    "WatchdogMajor(C);WatchdogMinor(P);WatchdogMinor(C);ResponseTimeanswer(P);ResponseTimeanswer(C);"
    "ResponseTimeanswerStDev(P);ResponseTimeanswerStDev(C);CallLength(P);CallLength(C);"
    "CallLengthStDev(P);CallLengthStDev(C);GenericCounter1(P);GenericCounter1(C);"
    "ResponseTimeRepartitionanswer;ResponseTimeRepartitionanswer_<10;ResponseTimeRepartitionanswer_<20;"
    "ResponseTimeRepartitionanswer_<50;ResponseTimeRepartitionanswer_<100;"
    "ResponseTimeRepartitionanswer_<200;ResponseTimeRepartitionanswer_<500;"
    "ResponseTimeRepartitionanswer_<1000;ResponseTimeRepartitionanswer_<2000;"
    "ResponseTimeRepartitionanswer_>=2000;\n"
)
# Recorded: 10 calls at 5 calls/s, 1 s hold, against a SIPp UAS that answers at once (3rd and last rows).
QUICK_STAT_CSV = SIPP_STAT_HEADER + (
    "2026-11-28\t23:56:08.887355\t1795910168.887355;2026-11-28\t23:56:09.890178\t1795910169.890178;"
    "2026-11-28\t23:56:10.893209\t1795910170.893209;00:00:01;00:00:02;5;5.98205;4.98753;0;0;6;10;10;6;4;"
    "4;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;4;4;0;0;0;"
    "0;0;0;00:00:00:002000;00:00:00:002000;00:00:00:002000;00:00:00:002000;00:00:01:011000;"
    "00:00:01:011000;00:00:00:003000;00:00:00:003000;0;0;;10;0;0;0;0;0;0;0;0;\n"
    "2026-11-28\t23:56:08.887355\t1795910168.887355;2026-11-28\t23:56:11.900670\t1795910171.900670;"
    "2026-11-28\t23:56:11.900787\t1795910171.900787;00:00:00;00:00:03;5;0;3.31895;0;0;0;10;10;0;0;10;0;0;"
    "0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;10;0;0;0;0;0;"
    "0;00:00:00:000000;00:00:00:002000;00:00:00:000000;00:00:00:002000;00:00:00:000000;00:00:01:009000;"
    "00:00:00:000000;00:00:00:002000;0;0;;10;0;0;0;0;0;0;0;0;\n"
)
# Recorded: 60 calls at 20 calls/s, 1 s hold, against a SIPp UAS that answers after 2 s without a 100
# Trying: every INVITE is resent at 0.5 s and 1.5 s, calls pile up to 60 (4th and last rows).
SLOW_STAT_CSV = SIPP_STAT_HEADER + (
    "2026-11-28\t23:56:22.173674\t1795910182.173674;2026-11-28\t23:56:24.181337\t1795910184.181337;"
    "2026-11-28\t23:56:25.185393\t1795910185.185393;00:00:01;00:00:03;20;19.9203;19.9269;0;0;20;60;60;60;"
    "0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;41;79;0;0;0;0;0;"
    "0;0;0;0;0;00:00:02:004000;00:00:02:004000;00:00:00:000000;00:00:00:000000;00:00:00:000000;"
    "00:00:00:000000;00:00:00:000000;00:00:00:000000;0;0;;0;0;0;0;0;0;0;0;20;\n"
    "2026-11-28\t23:56:22.173674\t1795910182.173674;2026-11-28\t23:56:28.189446\t1795910188.189446;"
    "2026-11-28\t23:56:28.189599\t1795910188.189599;00:00:00;00:00:06;20;0;9.97506;0;0;0;60;60;0;0;60;0;"
    "0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;0;120;0;0;0;60;0;0;0;"
    "0;0;0;00:00:00:000000;00:00:02:004000;00:00:00:000000;00:00:00:000000;00:00:00:000000;"
    "00:00:03:009000;00:00:00:000000;00:00:00:002000;0;0;;0;0;0;0;0;0;0;0;60;\n"
)
# The quick run's message log, first call: INVITE, 180, 200, ACK, hold, BYE, 200.
QUICK_CALL_LOG = """\
----------------------------------------------- 2026-11-28 23:56:09.090526
UDP message sent (526 bytes):

INVITE sip:10086@127.0.0.1:15099 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-6006-1-0
From: bench <sip:bench@127.0.0.1:15098>;tag=6006SIPpTag001
To: <sip:10086@127.0.0.1:15099>
Call-ID: 1-6006@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:bench@127.0.0.1:15098>
Max-Forwards: 70
Subject: hotline bench
Content-Type: application/sdp
Content-Length:   154

v=0
o=bench 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 16100 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
a=sendrecv

----------------------------------------------- 2026-11-28 23:56:09.091964
UDP message received [301] bytes :

SIP/2.0 180 Ringing
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-6006-1-0
From: bench <sip:bench@127.0.0.1:15098>;tag=6006SIPpTag001
To: <sip:10086@127.0.0.1:15099>;tag=6002SIPpTag011
Call-ID: 1-6006@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:127.0.0.1:15099;transport=UDP>
Content-Length: 0


----------------------------------------------- 2026-11-28 23:56:09.093116
UDP message received [461] bytes :

SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-6006-1-0
From: bench <sip:bench@127.0.0.1:15098>;tag=6006SIPpTag001
To: <sip:10086@127.0.0.1:15099>;tag=6002SIPpTag011
Call-ID: 1-6006@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:127.0.0.1:15099;transport=UDP>
Content-Type: application/sdp
Content-Length:   130

v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 16000 RTP/AVP 0
a=rtpmap:0 PCMU/8000

----------------------------------------------- 2026-11-28 23:56:09.093181
UDP message sent (334 bytes):

ACK sip:127.0.0.1:15099;transport=UDP SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-6006-1-5
From: bench <sip:bench@127.0.0.1:15098>;tag=6006SIPpTag001
To: <sip:10086@127.0.0.1:15099>;tag=6002SIPpTag011
Call-ID: 1-6006@127.0.0.1
CSeq: 1 ACK
Contact: <sip:bench@127.0.0.1:15098>
Max-Forwards: 70
Content-Length: 0


----------------------------------------------- 2026-11-28 23:56:10.106495
UDP message sent (334 bytes):

BYE sip:127.0.0.1:15099;transport=UDP SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-6006-1-8
From: bench <sip:bench@127.0.0.1:15098>;tag=6006SIPpTag001
To: <sip:10086@127.0.0.1:15099>;tag=6002SIPpTag011
Call-ID: 1-6006@127.0.0.1
CSeq: 2 BYE
Contact: <sip:bench@127.0.0.1:15098>
Max-Forwards: 70
Content-Length: 0


----------------------------------------------- 2026-11-28 23:56:10.106748
UDP message received [293] bytes :

SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-6006-1-8
From: bench <sip:bench@127.0.0.1:15098>;tag=6006SIPpTag001
To: <sip:10086@127.0.0.1:15099>;tag=6002SIPpTag011
Call-ID: 1-6006@127.0.0.1
CSeq: 2 BYE
Contact: <sip:127.0.0.1:15099;transport=UDP>
Content-Length: 0
"""
# The slow run's message log, first call: the INVITE three times, the 200 after 2 s.
SLOW_CALL_LOG = """\
----------------------------------------------- 2026-11-28 23:56:22.226724
UDP message sent (526 bytes):

INVITE sip:10086@127.0.0.1:15099 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-8125-1-0
From: bench <sip:bench@127.0.0.1:15098>;tag=8125SIPpTag001
To: <sip:10086@127.0.0.1:15099>
Call-ID: 1-8125@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:bench@127.0.0.1:15098>
Max-Forwards: 70
Subject: hotline bench
Content-Type: application/sdp
Content-Length:   154

v=0
o=bench 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 16100 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
a=sendrecv

----------------------------------------------- 2026-11-28 23:56:22.729507
UDP message sent (526 bytes):

INVITE sip:10086@127.0.0.1:15099 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-8125-1-0
From: bench <sip:bench@127.0.0.1:15098>;tag=8125SIPpTag001
To: <sip:10086@127.0.0.1:15099>
Call-ID: 1-8125@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:bench@127.0.0.1:15098>
Max-Forwards: 70
Subject: hotline bench
Content-Type: application/sdp
Content-Length:   154

v=0
o=bench 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 16100 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
a=sendrecv

----------------------------------------------- 2026-11-28 23:56:23.733561
UDP message sent (526 bytes):

INVITE sip:10086@127.0.0.1:15099 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-8125-1-0
From: bench <sip:bench@127.0.0.1:15098>;tag=8125SIPpTag001
To: <sip:10086@127.0.0.1:15099>
Call-ID: 1-8125@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:bench@127.0.0.1:15098>
Max-Forwards: 70
Subject: hotline bench
Content-Type: application/sdp
Content-Length:   154

v=0
o=bench 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 16100 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
a=sendrecv

----------------------------------------------- 2026-11-28 23:56:24.230086
UDP message received [461] bytes :

SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-8125-1-0
From: bench <sip:bench@127.0.0.1:15098>;tag=8125SIPpTag001
To: <sip:10086@127.0.0.1:15099>;tag=7651SIPpTag011
Call-ID: 1-8125@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:127.0.0.1:15099;transport=UDP>
Content-Type: application/sdp
Content-Length:   130

v=0
o=user1 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 16000 RTP/AVP 0
a=rtpmap:0 PCMU/8000

----------------------------------------------- 2026-11-28 23:56:24.230193
UDP message sent (334 bytes):

ACK sip:127.0.0.1:15099;transport=UDP SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-8125-1-5
From: bench <sip:bench@127.0.0.1:15098>;tag=8125SIPpTag001
To: <sip:10086@127.0.0.1:15099>;tag=7651SIPpTag011
Call-ID: 1-8125@127.0.0.1
CSeq: 1 ACK
Contact: <sip:bench@127.0.0.1:15098>
Max-Forwards: 70
Content-Length: 0


----------------------------------------------- 2026-11-28 23:56:25.234813
UDP message sent (334 bytes):

BYE sip:127.0.0.1:15099;transport=UDP SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-8125-1-8
From: bench <sip:bench@127.0.0.1:15098>;tag=8125SIPpTag001
To: <sip:10086@127.0.0.1:15099>;tag=7651SIPpTag011
Call-ID: 1-8125@127.0.0.1
CSeq: 2 BYE
Contact: <sip:bench@127.0.0.1:15098>
Max-Forwards: 70
Content-Length: 0


----------------------------------------------- 2026-11-28 23:56:25.235022
UDP message received [293] bytes :

SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.1:15098;branch=z9hG4bK-8125-1-8
From: bench <sip:bench@127.0.0.1:15098>;tag=8125SIPpTag001
To: <sip:10086@127.0.0.1:15099>;tag=7651SIPpTag011
Call-ID: 1-8125@127.0.0.1
CSeq: 2 BYE
Contact: <sip:127.0.0.1:15099;transport=UDP>
Content-Length: 0
"""


def _stat_csv(**counters: int) -> str:
    """SIPp's header with one last row: the given columns set, every other one 0."""
    header = SIPP_STAT_HEADER.strip().split(";")
    row = [str(counters.get(name.replace("(C)", "_C"), 0)) for name in header]
    return SIPP_STAT_HEADER + ";".join(row) + "\n"


def _observation(rate: float, calls: int, successful: int, failed: int, retransmissions: int,
                 answers: list[float], peak: int | None, hold: float) -> Observation:
    return Observation(rate=rate, planned=calls, successful=successful, failed=failed,
                       retransmissions=retransmissions, answer_p95_ms=percentile(answers, 95),
                       peak_channels=peak, call_seconds=hold)


def test_recorded_quick_run_is_sustained() -> None:
    counters = parse_stat_csv(QUICK_STAT_CSV)
    assert (counters.created, counters.successful, counters.failed, counters.retransmissions) == (10, 10, 0, 0)
    assert counters.peak_current_calls == 6 and counters.failure_causes == {}
    trace = parse_message_trace(QUICK_CALL_LOG)
    assert trace.answer_ms == [pytest.approx(2.590)]
    assert (trace.invite_resends, trace.answer_resends) == (0, 0)
    verdict = judge(_observation(5, 10, counters.successful, counters.failed, counters.retransmissions,
                                 trace.answer_ms, counters.peak_current_calls, hold=1.0))
    assert verdict.sustained and verdict.failed == () and verdict.explain() == "sustained"
    key = next(c for c in verdict.checks if c.condition is Condition.KEY_PROMPT_P95)
    assert key.passed is None  # no keys in this scenario: not applicable, not a pass


def test_recorded_slow_answers_are_not_sustained_although_no_call_failed() -> None:
    counters = parse_stat_csv(SLOW_STAT_CSV)
    assert (counters.created, counters.successful, counters.failed) == (60, 60, 0)
    assert counters.retransmissions == 120 and counters.peak_current_calls == 60
    trace = parse_message_trace(SLOW_CALL_LOG)
    assert trace.answer_ms == [pytest.approx(2003.362)]
    assert (trace.invite_resends, trace.answer_resends) == (2, 0)
    verdict = judge(_observation(20, 60, counters.successful, counters.failed, counters.retransmissions,
                                 trace.answer_ms, counters.peak_current_calls, hold=1.0))
    assert not verdict.sustained
    assert verdict.failed == (Condition.RETRANSMISSIONS, Condition.ANSWER_P95, Condition.CHANNELS)
    assert verdict.explain() == ("120 SIP retransmissions; p95 INVITE→200 2,003.4 ms > 100 ms; "
                                 "peak 60 channels for 20 expected (above 29)")


COLLAPSE_CHANNELS = "532 active channels\n176 active calls\n10463 calls processed\n"


def _collapse_answers() -> list[float]:
    # 3,600 answers whose p95 is the issue's 2,034 ms: the slowest 5 % and a bit took ~2 s.
    return [40.0] * 3419 + [2034.0] * 181


def test_the_issues_collapse_passed_the_old_rule_and_fails_the_criterion() -> None:
    counters = parse_stat_csv(_stat_csv(TotalCallCreated=3600, SuccessfulCall_C=3600, CurrentCall=0))
    assert (counters.successful, counters.failed, counters.retransmissions) == (3600, 0, 0)
    answers = _collapse_answers()
    assert percentile(answers, 95) == pytest.approx(2034.0)
    step = step_result("hotline", 120, 30, planned=3600, attempted=counters.created,
                       successful=counters.successful, answer_ms=answers,
                       peak_channels=active_channels(COLLAPSE_CHANNELS), retransmissions=counters.retransmissions,
                       call_seconds=3.0)
    assert step.clean  # the old rule: 0 failed calls, so ">= 120 calls/s"
    assert not step.sustained
    assert step.verdict.failed == (Condition.ANSWER_P95, Condition.CHANNELS)
    assert "peak 532 channels for 360 expected (above 437)" in step.verdict.explain()


def test_report_names_the_failed_conditions_and_the_knee() -> None:
    fine = [step_result("hotline", rate, 30, planned=rate * 30, attempted=rate * 30, successful=rate * 30,
                        answer_ms=[8.0], peak_channels=rate * 3 + 2, call_seconds=3.0)
            for rate in (20, 60)]
    collapse = step_result("hotline", 120, 30, planned=3600, attempted=3600, successful=3600,
                           answer_ms=_collapse_answers(), peak_channels=532, call_seconds=3.0)
    baseline = [step_result("baseline", rate, 30, planned=rate * 30, attempted=rate * 30, successful=rate * 30,
                            answer_ms=[2.0], peak_channels=rate * 3, call_seconds=3.0) for rate in (20, 60, 120)]
    steps = [*fine, collapse, *baseline]
    summary = summarize(steps, highest_rate_tried=120)
    hotline = summary.paths["hotline"]
    assert (hotline.max_clean_rate, hotline.lower_bound) == (120, True)
    assert (hotline.max_sustained_rate, hotline.first_failing_rate, hotline.sustained_lower_bound) == (60, 120, False)
    assert summary.paths["baseline"].sustained_lower_bound
    assert summary.sustained_rate_ratio == pytest.approx(0.5)
    text = markdown(steps, summary, {"cpus": 2, "seconds": 30, "hold": 3.0, "number": "10086",
                                     "criterion": {"answer_p95_ms": 100, "key_prompt_p95_ms": 200,
                                                   "channel_tolerance": 1.2, "channel_slack": 5},
                                     "search": {"min_step": 5, "max_probes": 3}})
    assert "| 532 | – | answer_p95, channels |" in text
    assert ("- hotline at 120 calls/s: p95 INVITE→200 2,034.0 ms > 100 ms; peak 532 channels for 360 expected "
            "(above 437)") in text
    assert "| hotline | 60 | 8.0 | 120 | ≥ 120 |" in text
    assert "| baseline | ≥ 120 |" in text
    assert "p95 INVITE→200 ≤ 100 ms" in text and "probes per path: at most 3" in text
    assert "short run" in text


def test_limits_are_inclusive_and_missing_answers_fail() -> None:
    base = Observation(rate=10, planned=80, successful=80, failed=0, retransmissions=0, answer_p95_ms=100.0,
                       peak_channels=41, call_seconds=3.0, key_prompt_p95_ms=200.0)
    assert judge(base).sustained  # 41 = floor(30 * 1.2) + 5
    over = Observation(rate=10, planned=80, successful=80, failed=0, retransmissions=0, answer_p95_ms=100.1,
                       peak_channels=42, call_seconds=3.0, key_prompt_p95_ms=200.5)
    assert judge(over).failed == (Condition.ANSWER_P95, Condition.KEY_PROMPT_P95, Condition.CHANNELS)
    slow_greeting = Observation(rate=10, planned=80, successful=80, failed=0, retransmissions=0,
                                answer_p95_ms=5.0, peak_channels=41, call_seconds=3.0, greeting_p95_ms=200.5)
    assert judge(slow_greeting).failed == (Condition.GREETING_P95,)
    assert judge(slow_greeting).explain() == "p95 answer→greeting 200.5 ms > 200 ms"
    silent = Observation(rate=10, planned=80, successful=0, failed=80, retransmissions=0, answer_p95_ms=None,
                         peak_channels=None, call_seconds=3.0)
    verdict = judge(silent)
    assert verdict.failed == (Condition.COMPLETED, Condition.ANSWER_P95, Condition.CHANNELS)
    assert verdict.explain() == ("0/80 calls completed, 80 failed; INVITE→200 not measured; "
                                 "channels not measured (30 expected)")


def test_channels_are_not_judged_without_a_call_length_and_thresholds_are_settings() -> None:
    obs = Observation(rate=100, planned=800, successful=800, failed=0, retransmissions=0, answer_p95_ms=50.0,
                      peak_channels=10_000)
    check = next(c for c in judge(obs).checks if c.condition is Condition.CHANNELS)
    assert check.passed is None and judge(obs).sustained
    assert not judge(obs, Thresholds(answer_p95_ms=40)).sustained
    assert judge(Observation(rate=1, planned=8, successful=8, failed=0, retransmissions=0, answer_p95_ms=3.0,
                             peak_channels=5, call_seconds=3.0), Thresholds(channel_slack=2)).sustained
    for bad in ({"answer_p95_ms": 0}, {"channel_tolerance": 0.9}, {"channel_slack": -1}):
        with pytest.raises(ValueError):
            Thresholds(**bad)  # type: ignore[arg-type]


def test_a_resent_answer_from_the_pbx_counts_as_a_retransmission() -> None:
    # The recorded call with its 200 OK to the INVITE received twice, as when our ACK reached the PBX late.
    answer = next(block for block in QUICK_CALL_LOG.split("\n-") if "SIP/2.0 200 OK" in block and "1 INVITE" in block)
    twice = QUICK_CALL_LOG.replace(answer, answer + "\n-" + answer, 1)
    trace = parse_message_trace(twice)
    assert (trace.invite_resends, trace.answer_resends) == (0, 1)
    step = step_result("hotline", 5, 2, planned=10, attempted=10, successful=10, answer_ms=trace.answer_ms,
                       answer_resends=trace.answer_resends, peak_channels=6, call_seconds=1.0)
    assert step.verdict.failed == (Condition.RETRANSMISSIONS,)
    assert step.verdict.explain() == "1 SIP retransmissions"


def test_sipp_peak_calls_stand_in_when_the_pbx_could_not_be_asked() -> None:
    step = step_result("hotline", 20, 3, planned=60, attempted=60, successful=60, answer_ms=[5.0],
                       peak_channels=None, sipp_peak_calls=60, call_seconds=1.0)
    assert step.verdict.failed == (Condition.CHANNELS,)
    assert "peak 60 channels for 20 expected" in step.verdict.explain()
