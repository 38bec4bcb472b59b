"""One load step: SIPp as a caller (UAC) at a fixed call rate against 127.0.0.1, and what it measured.

Each call: INVITE (PCMU SDP) -> optional 100/180/183 -> 200 (INVITE->200 timed as response time
distribution "answer") -> ACK -> hold -> BYE -> 200. When the PBX hangs up first during the hold, the
BYE is answered and the call still counts as successful (GenericCounter1 counts those).
SIPp writes its counters (``-trace_stat``) and every message with a microsecond time stamp
(``-trace_msg``) to files in the step's work folder; ``sipp_parse`` turns them into a ``SippRun``.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.sipp_parse import SippCounters, parse_message_trace, parse_stat_csv

SIPP = "sipp"
# Per-call bounds: a call whose 200 (to INVITE or BYE) takes longer fails instead of waiting forever.
ANSWER_TIMEOUT_MS = 8000
BYE_TIMEOUT_MS = 8000

_SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="hotline bench caller">
  <send retrans="500" start_rtd="answer">
    <![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: bench <sip:bench@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:bench@[local_ip]:[local_port]>
Max-Forwards: 70
Subject: hotline bench
Content-Type: application/sdp
Content-Length: [len]

v=0
o=bench 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=ptime:20
a=sendrecv

    ]]>
  </send>

  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" rtd="answer" timeout="{answer_timeout_ms}"/>

  <send>
    <![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: bench <sip:bench@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:bench@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>

  <!-- The hold: normally it times out and we hang up; a BYE from the PBX is accepted, not a failure. -->
  <recv request="BYE" timeout="{hold_ms}" ontimeout="caller_hangs_up" counter="1"/>
  <send next="done">
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:bench@[local_ip]:[local_port]>
Content-Length: 0

    ]]>
  </send>

  <label id="caller_hangs_up"/>
  <send retrans="500">
    <![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: bench <sip:bench@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 2 BYE
Contact: <sip:bench@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

    ]]>
  </send>
  <recv response="200" timeout="{bye_timeout_ms}"/>

  <label id="done"/>
  <nop/>

  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500, 1000, 2000"/>
</scenario>
"""


def scenario_xml(hold_ms: int, answer_timeout_ms: int = ANSWER_TIMEOUT_MS,
                 bye_timeout_ms: int = BYE_TIMEOUT_MS) -> str:
    return _SCENARIO.format(hold_ms=hold_ms, answer_timeout_ms=answer_timeout_ms,
                            bye_timeout_ms=bye_timeout_ms)


@dataclass(frozen=True)
class SippRun:
    target_calls: int
    counters: SippCounters
    answer_ms: list[float]
    exit_code: int  # 0 all calls ok, 1 some failed, 255 global -timeout hit or fatal error, -9 killed by us
    # 200 OKs the PBX sent again because our ACK came late (SIPp's counters only see its own resends).
    answer_resends: int = 0


def _free_udp_pair() -> int:
    """A free UDP port p with p+2 free too: SIPp binds the media port and media port + 2 (video)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            if port > 65533:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as second:
                try:
                    second.bind(("127.0.0.1", port + 2))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free UDP port pair for SIPp's media")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_load(workdir: Path, sip_port: int, number: str, rate: int, seconds: int, hold: float) -> SippRun:
    """Place ``rate * seconds`` calls at ``rate`` calls/s to ``number`` on 127.0.0.1:``sip_port``."""
    workdir.mkdir(parents=True, exist_ok=True)
    scenario = workdir / "caller.xml"
    scenario.write_text(scenario_xml(int(hold * 1000)))
    total = rate * seconds
    # Generous bound: the last call starts at `seconds`, then answer + hold + BYE, each with its timeout.
    global_timeout = seconds + int(hold) + (ANSWER_TIMEOUT_MS + BYE_TIMEOUT_MS) // 1000 + 10
    argv = [SIPP, f"127.0.0.1:{sip_port}", "-sf", scenario.name, "-s", number,
            "-i", "127.0.0.1", "-p", str(_free_udp_port()), "-mp", str(_free_udp_pair()),
            # SIPp's UDP control socket would otherwise listen on 0.0.0.0:8888.
            "-ci", "127.0.0.1", "-cp", str(_free_udp_port()),
            "-r", str(rate), "-m", str(total), "-l", str(total),
            "-timeout", f"{global_timeout}s", "-timeout_error",
            "-trace_stat", "-stf", "stat.csv", "-fd", "1",
            "-trace_msg", "-trace_err", "-nostdin"]
    with open(workdir / "sipp.out", "w") as out:
        try:
            proc = subprocess.run(argv, cwd=workdir, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, timeout=global_timeout + 20, check=False)
            exit_code = proc.returncode
        except subprocess.TimeoutExpired:
            # subprocess.run has already killed SIPp; what it wrote so far still counts.
            exit_code = -9
    stat = workdir / "stat.csv"
    counters = (parse_stat_csv(stat.read_text()) if stat.exists()
                else SippCounters(created=0, successful=0, failed=0, retransmissions=0, remote_hangups=0))
    logs = sorted(workdir.glob("caller_*_messages.log"))
    traces = [parse_message_trace(log.read_text(errors="replace")) for log in logs]
    return SippRun(target_calls=total, counters=counters, answer_ms=[t for trace in traces for t in trace.answer_ms],
                   exit_code=exit_code, answer_resends=sum(trace.answer_resends for trace in traces))

