"""The journey's callers: SIPp at a fixed rate through the IVR to an agent, and what SIPp saw.

Two caller kinds, each one SIPp process (a scenario's keys are fixed), started together and sharing the
rate: **agent** callers press 0 in the main menu; **self-service** callers (the sample account
13800138000, password 123456) press 1 (self-service), 1 (balance), 123456#, then 0 for an agent after the
look-up (typed ahead: the 0 follows the # after the usual gap). Keys are RFC 4733 events (SIPp's
captures, renumbered per press) sent at fixed times after the answer: typed ahead of the prompts, which
the hotline and the dialplan baseline both accept. After the keys every caller sends speech (a 7 s
capture, over and over) until the PBX hangs up, which happens when the agent hangs up after the talk
time. The scenario is the test caller's (``engine.testcall.scenario.caller_scenario``); its
``testcall|...`` log lines are counted per kind.
"""

from __future__ import annotations

import math
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.sipp_load import _free_udp_pair, _free_udp_port
from bench.sipp_parse import SippCounters, parse_message_trace, parse_stat_csv
from engine.testcall.runner import write_key_pcaps, write_speech
from engine.testcall.scenario import Event, caller_scenario, dtmf_pcap, parse_events

SIPP = "sipp"
AGENT_KEYS = ("0",)
SELF_SERVICE_KEYS = ("1", "1", *"123456#", "0")
SELF_SERVICE_CALLER = "13800138000"
AGENT_CALLER = "13500000000"
FIRST_KEY_MS = 2000
KEY_GAP_MS = 600


@dataclass(frozen=True)
class CallerKind:
    name: str
    caller_id: str
    keys: tuple[str, ...]


KINDS = (CallerKind("agent", AGENT_CALLER, AGENT_KEYS), CallerKind("self-service", SELF_SERVICE_CALLER,
                                                                  SELF_SERVICE_KEYS))


@dataclass(frozen=True)
class CallerRun:
    """What one kind's SIPp process saw: planned calls, its counters, INVITE->200 per call, how calls
    ended (``testcall`` events counted), and its exit code."""

    kind: str
    planned: int
    counters: SippCounters
    answer_ms: list[float]
    events: dict[str, int] = field(default_factory=dict)
    answer_resends: int = 0
    exit_code: int = 0

    @property
    def ended_by_pbx(self) -> int:
        """Calls the PBX hung up (after the agent did): the journey's normal end."""
        return self.events.get(Event.REMOTE_BYE, 0)


def split(total: int, share: float) -> dict[str, int]:
    """``total`` calls into the two kinds: ``share`` of them self-service (rounded), the rest agent."""
    self_service = round(total * share)
    return {"agent": total - self_service, "self-service": self_service}


def _scenario(kind: CallerKind, dialed: str, media_port: int, key_pcaps: list[Path], speech: Path,
              max_call_s: float) -> str:
    return caller_scenario(dialed=dialed, caller_id=kind.caller_id, keys=list(kind.keys),
                           first_key_delay_ms=FIRST_KEY_MS, key_gap_ms=KEY_GAP_MS,
                           max_call_ms=round(max_call_s * 1000), media_ip="127.0.0.1", media_port=media_port,
                           sipp_media_port=media_port, speak_pcap=str(speech),
                           key_pcaps=[str(p) for p in key_pcaps], answer_timeout_ms=8000)


def _rate_args(rate: float) -> list[str]:
    # SIPp takes calls per period: 10 s periods give rates to a tenth of a call per second.
    return ["-r", str(max(1, round(rate * 10))), "-rp", "10000"]


def start_callers(workdir: Path, sip_port: int, dialed: str, rate: float, seconds: int, share: float,
                  max_call_s: float) -> list[tuple[CallerKind, int, subprocess.Popen[bytes], Path]]:
    """Start both kinds' SIPp processes (kinds with no call are skipped); ``rate`` calls/s in all."""
    started = []
    for kind, count in zip(KINDS, split(round(rate * seconds), share).values(), strict=True):
        if count == 0:
            continue
        folder = workdir / kind.name
        folder.mkdir(parents=True, exist_ok=True)
        pcaps = write_key_pcaps(folder, [dtmf_pcap(key) for key in kind.keys])
        media = _free_udp_pair()
        speech = write_speech(folder / "speech.pcap", max_call_s)  # from the keys to the end, one RTP stream
        (folder / "caller.xml").write_text(_scenario(kind, dialed, media, pcaps, speech, max_call_s),
                                           encoding="iso-8859-1")
        timeout_s = math.ceil(seconds + max_call_s + 30)
        argv = [SIPP, f"127.0.0.1:{sip_port}", "-sf", "caller.xml", "-s", dialed,
                "-i", "127.0.0.1", "-p", str(_free_udp_port()), "-mi", "127.0.0.1", "-mp", str(media),
                "-ci", "127.0.0.1", "-cp", str(_free_udp_port()), *_rate_args(count / seconds),
                "-m", str(count), "-l", str(count * 2 + 10), "-aa",
                "-timeout", f"{timeout_s}s", "-timeout_error",
                "-trace_stat", "-stf", "stat.csv", "-fd", "1", "-trace_msg", "-trace_err",
                "-trace_logs", "-log_file", "events.log", "-nostdin"]
        out = open(folder / "sipp.out", "wb")  # noqa: SIM115 - closed when the process is collected
        proc = subprocess.Popen(argv, cwd=folder, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        started.append((kind, count, proc, folder))
    return started


def collect(kind: CallerKind, planned: int, proc: subprocess.Popen[bytes], folder: Path,
            timeout_s: float) -> CallerRun:
    """Wait for one SIPp process (killed after ``timeout_s``) and read what it wrote."""
    try:
        exit_code = proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        exit_code = -9
    stat = folder / "stat.csv"
    counters = (parse_stat_csv(stat.read_text()) if stat.exists()
                else SippCounters(created=0, successful=0, failed=0, retransmissions=0, remote_hangups=0))
    traces = [parse_message_trace(log.read_text(errors="replace")) for log in folder.glob("caller_*_messages.log")]
    log = folder / "events.log"
    events = Counter(e.event.value for e in parse_events(log.read_text(errors="replace"))) if log.exists() else {}
    return CallerRun(kind=kind.name, planned=planned, counters=counters,
                     answer_ms=[t for trace in traces for t in trace.answer_ms], events=dict(events),
                     answer_resends=sum(trace.answer_resends for trace in traces), exit_code=exit_code)
