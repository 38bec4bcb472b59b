"""Pure parsers for what SIPp writes during a load step: the statistics CSV and the message log.

``sipp_load`` runs SIPp with ``-trace_stat -stf stat.csv -fd 1`` (one cumulative row per second) and
``-trace_msg`` (every SIP message with a microsecond time stamp); the functions here turn those texts
into values the report and the sustained criterion (``bench.criterion``) read. No I/O: the unit tests
feed them recorded excerpts (``tests/unit/test_bench_criterion.py``).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import dropwhile

# Each message in a -trace_msg log starts on a line of dashes followed by the time stamp.
_SEPARATOR = re.compile(r"^(?=-{20,} \d{4}-)", re.MULTILINE)


@dataclass(frozen=True)
class SippCounters:
    """The cumulative counters of SIPp's last statistics line, plus the highest ``CurrentCall`` of any
    line (SIPp's own view of calls piling up, sampled once a second)."""

    created: int
    successful: int
    failed: int
    retransmissions: int
    remote_hangups: int
    # Non-zero SIPp failure reasons, e.g. {"TimeoutOnRecv": 3, "UnexpectedMessage": 1}.
    failure_causes: dict[str, int] = field(default_factory=dict)
    peak_current_calls: int = 0


def parse_stat_csv(text: str) -> SippCounters:
    """The cumulative ``(C)`` columns of the last row of a ``-trace_stat`` file (``;``-separated)."""
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=";") if row]
    if len(rows) < 2:
        raise ValueError("SIPp statistics file has no data row")
    header, data = rows[0], rows[1:]
    values = dict(zip(header, data[-1], strict=False))

    def number(raw: str | None) -> int:
        raw = (raw or "").strip()
        return int(raw) if raw.isdigit() else 0

    def last(column: str) -> int:
        return number(values.get(column))

    peak = 0
    if "CurrentCall" in header:
        column = header.index("CurrentCall")
        peak = max((number(row[column]) for row in data if column < len(row)), default=0)
    causes = {column.removeprefix("Failed").removesuffix("(C)"): last(column) for column in header
              if column.startswith("Failed") and column.endswith("(C)") and column != "FailedCall(C)"}
    return SippCounters(created=last("TotalCallCreated"), successful=last("SuccessfulCall(C)"),
                        failed=last("FailedCall(C)"), retransmissions=last("Retransmissions(C)"),
                        remote_hangups=last("GenericCounter1(C)"),
                        failure_causes={cause: count for cause, count in causes.items() if count},
                        peak_current_calls=peak)


@dataclass(frozen=True)
class MessageTrace:
    """What the message log says about the INVITE transactions of a step.

    ``answer_ms``: first INVITE sent to first 200 received, per answered call. ``invite_resends``: INVITEs
    SIPp sent again because no response came in time (its ``Retransmissions`` counter sees those too).
    ``answer_resends``: 200 OKs to an INVITE received more than once for a call, i.e. the PBX retransmitted
    its answer because our ACK did not reach it in time; SIPp's counters do not see those.
    """

    answer_ms: list[float]
    invite_resends: int
    answer_resends: int


def _message_time(separator_line: str) -> datetime | None:
    # "----- 2026-11-23 10:48:49.144530" (SIPp takes this stamp from gettimeofday: microseconds).
    stamp = " ".join(separator_line.strip("-").split()[:2])
    try:
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        return None


def parse_message_trace(text: str) -> MessageTrace:
    """INVITE->200 times and retransmissions of the INVITE transactions in a ``-trace_msg`` log.

    SIPp's own response-time counters (``rtd``, ``-trace_rtt``) read a coarse clock that moves in
    4 ms steps here, too coarse for answers that take a few ms; the message log has microseconds.
    """
    invite_sent: dict[str, datetime] = {}
    answered: dict[str, datetime] = {}
    invites: Counter[str] = Counter()
    answers: Counter[str] = Counter()
    for block in _SEPARATOR.split(text):
        lines = block.splitlines()
        if len(lines) < 3 or (stamp := _message_time(lines[0])) is None:
            continue
        sent = lines[1].startswith("UDP message sent")
        message = list(dropwhile(lambda line: not line.strip(), lines[2:]))
        if not message:
            continue
        start_line = message[0]
        headers: dict[str, str] = {}
        for line in message[1:]:
            if not line.strip():
                break  # end of the headers
            name, _, value = line.partition(":")
            headers.setdefault(name.strip().lower(), value.strip())
        call_id, cseq = headers.get("call-id"), headers.get("cseq", "").split()
        if call_id is None or len(cseq) != 2 or cseq[1] != "INVITE":
            continue
        if sent and start_line.startswith("INVITE "):
            invite_sent.setdefault(call_id, stamp)
            invites[call_id] += 1
        elif not sent and start_line.startswith("SIP/2.0 200"):
            answered.setdefault(call_id, stamp)
            answers[call_id] += 1
    return MessageTrace(
        answer_ms=[(answered[c] - invite_sent[c]).total_seconds() * 1000 for c in answered if c in invite_sent],
        invite_resends=sum(n - 1 for n in invites.values()),
        answer_resends=sum(n - 1 for n in answers.values()),
    )


def parse_message_log(text: str) -> list[float]:
    """INVITE->200 per call in ms from a ``-trace_msg`` log: first INVITE sent to first 200 received."""
    return parse_message_trace(text).answer_ms
