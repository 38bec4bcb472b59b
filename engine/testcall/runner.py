"""Place one real SIP test call with SIPp and report what the caller experienced.

`place_call` starts an `RtpListener` (rtp.py) on a free port, writes renumbered DTMF captures and the
caller scenario (scenario.py) into a work folder, runs ``sipp`` as a subprocess bounded both by SIPp's own
``-timeout`` and by our deadline, then turns the scenario's log lines into a `CallReport`. `format_report`
renders a report for people (``hotline call dial``). Used by the product CLI and by every PBX test;
agent.py shares the SIPp process helpers `run_sipp_on_free_ports`, `free_port`, `bind_clash` and `read_log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.errors import PbxUnreachable
from engine.testcall.rtp import AudioReport, RtpListener
from engine.testcall.scenario import (
    SIPP_PCAP_DIR,
    Event,
    LogEvent,
    caller_scenario,
    check_call,
    dtmf_pcap,
    looped_capture,
    parse_events,
    renumber_rtp,
)
from engine.testcall.sipp_xml import TRANSACTION_TIMEOUT_MS

SIPP = "sipp"
SPEAK_PCAP = SIPP_PCAP_DIR / "g711a.pcap"  # 7 s of PCMA speech
# SIPp's own -timeout beyond the scenario's worst case, and our deadline beyond SIPp's.
SIPP_MARGIN_S = 15.0
KILL_MARGIN_S = 5.0
EndedBy = Literal["hotline", "caller", "error"]
_UNEXPECTED_STATUS = re.compile(r"received 'SIP/2\.0 (\d{3})")
# SIPp's words when one of its sockets (-p, -mp, -cp) is taken: "Unable to bind main socket, errno = 98".
_BIND_CLASH = re.compile(r"Unable to bind .*errno = 98")
# free_port only probes: between the probe and SIPp's bind another process (a parallel test worker's SIPp)
# can take the port. SIPp then exits before sending anything, so starting it again on fresh ports is safe.
BIND_ATTEMPTS = 4
_SIPP_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}\t\d{2}:\d{2}:\d{2}\.\d+\t\d+\.\d+: ")


class SippNotInstalled(PbxUnreachable):
    """The test caller needs SIPp (Debian package sip-tester) and its stock captures."""

    code = "sipp-not-installed"


@dataclass(frozen=True)
class CallReport:
    """What one test call did. `status` is the final INVITE response (None if there was none);
    `setup_ms` INVITE to 200 OK; `duration_s` 200 OK to the BYE (0 if unanswered); `ended_by` who hung up
    ('hotline' also for a rejection, 'error' when the call did not end by either side's choice).
    """

    status: int | None
    answered: bool
    setup_ms: float | None
    ended_by: EndedBy
    duration_s: float
    audio: AudioReport
    sipp_exit: int
    error: str | None


async def place_call(*, target_host: str = "127.0.0.1", target_port: int = 5060, dialed: str,
                     caller_id: str = "13800138000", keys: Sequence[str] = (),
                     hangup_after_s: float | None = None, max_call_s: float = 30, speak: bool = False,
                     local_ip: str = "127.0.0.1", work_dir: Path | None = None,
                     first_key_delay_s: float = 1.5, key_gap_s: float = 0.6,
                     speak_throughout: bool = False) -> CallReport:
    """Call `dialed` at `target_host`:`target_port` from `caller_id`, press `keys`, and report.

    The caller waits `max_call_s` for an answer; then, counted from the answer, it presses the keys
    (the first after `first_key_delay_s`, then `key_gap_s` of quiet after each 140 ms key), optionally
    plays 7 s of speech (`speak`, PCMA; `speak_throughout`: over and over to the end of the call, as a phone
    that never stops sending audio), and hangs up after `hangup_after_s` or, without it, waits up to
    `max_call_s` for the hotline to hang up. A PBX that does not answer gives a report with `error` set;
    a missing SIPp raises SippNotInstalled. `work_dir` keeps the scenario and SIPp's logs for reading.
    """
    check_call(dialed=dialed, caller_id=caller_id, keys=keys)
    sipp = shutil.which(SIPP)
    if sipp is None:
        raise SippNotInstalled("sipp is not installed: apt-get install sip-tester")
    speak = speak or speak_throughout
    if (keys or speak) and not SIPP_PCAP_DIR.is_dir():
        raise SippNotInstalled(f"SIPp's captures are missing from {SIPP_PCAP_DIR}: "
                               "apt-get install sip-tester")
    stock = [dtmf_pcap(key) for key in keys]
    max_call_ms = round(max_call_s * 1000)
    connected_s = hangup_after_s if hangup_after_s is not None else max_call_s
    sipp_timeout_s = math.ceil(max_call_s + connected_s + SIPP_MARGIN_S)

    with _work_folder(work_dir) as folder:
        for stale in ("events.log", "errors.log"):  # a reused work_dir must not report the last call
            (folder / stale).unlink(missing_ok=True)
        key_pcaps = write_key_pcaps(folder, stock)
        speech = str(write_speech(folder / "speech.pcap", max_call_s + connected_s) if speak_throughout
                     else SPEAK_PCAP) if speak else None
        async with RtpListener(local_ip) as listener:

            def command() -> list[str]:
                sipp_media_port = free_media_port(local_ip)  # the scenario's SDP names it too
                scenario = caller_scenario(
                    dialed=dialed, caller_id=caller_id, keys=list(keys), max_call_ms=max_call_ms,
                    first_key_delay_ms=round(first_key_delay_s * 1000), key_gap_ms=round(key_gap_s * 1000),
                    hangup_after_ms=None if hangup_after_s is None else round(hangup_after_s * 1000),
                    media_port=listener.port, media_ip=local_ip, sipp_media_port=sipp_media_port,
                    speak_pcap=speech, key_pcaps=[str(p) for p in key_pcaps])
                (folder / "caller.xml").write_text(scenario, encoding="iso-8859-1")
                return [
                    sipp, "-sf", "caller.xml", "-m", "1", "-l", "1", "-s", dialed,
                    "-i", local_ip, "-p", str(free_port(local_ip)),
                    "-mi", local_ip, "-mp", str(sipp_media_port),
                    # SIPp's UDP remote-control socket: loopback only, and not the shared default 8888.
                    "-ci", "127.0.0.1", "-cp", str(free_port("127.0.0.1")),
                    "-nostdin", "-aa",  # -aa: answer INFO/NOTIFY/OPTIONS/UPDATE with 200 mid-call
                    "-trace_err", "-error_file", "errors.log", "-trace_logs", "-log_file", "events.log",
                    "-timeout", f"{sipp_timeout_s}s", "-timeout_error",
                    f"{target_host}:{target_port}",
                ]

            exit_code, stderr, killed = await run_sipp_on_free_ports(command, folder, sipp_timeout_s + KILL_MARGIN_S)
        events = parse_events(read_log(folder / "events.log"))
        answered_at = next((e.at for e in events if e.event is Event.ANSWERED), None)
        return _report(events=events, errors=read_log(folder / "errors.log"), stderr=stderr, exit_code=exit_code,
                       killed=killed, audio=listener.report(origin=answered_at),
                       target=f"{target_host}:{target_port}", max_call_s=max_call_s)


def format_report(report: CallReport) -> str:
    """A few lines for a person: status, setup time, what was heard, who hung up."""
    if report.answered:
        setup = f"{report.setup_ms:.0f} ms" if report.setup_ms is not None else "an unknown time"
        lines = [f"answered: {report.status} after {setup}"]
    elif report.status is not None:
        lines = [f"rejected: {report.status}"]
    else:
        lines = ["not answered"]
    audio = report.audio
    if report.answered:
        heard = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in audio.segments) or "nothing voiced"
        lines.append(f"heard: {audio.seconds:.1f} s of audio, {audio.voiced_seconds:.1f} s voiced "
                     f"in {len(audio.segments)} segment(s): {heard} (peak {audio.peak_dbfs:.0f} dBFS)")
        who = {"hotline": "the hotline hung up", "caller": "the caller hung up",
               "error": "the call broke off"}[report.ended_by]
        lines.append(f"ended: {who} after {report.duration_s:.1f} s")
    if report.error:
        lines.append(f"error: {report.error}")
    return "\n".join(lines)


def _report(*, events: list[LogEvent], errors: str, stderr: str, exit_code: int, killed: bool,
            audio: AudioReport, target: str, max_call_s: float) -> CallReport:
    """The outcome from the scenario's events; SIPp's error log and stderr only explain failures."""
    first = {e.event: e for e in reversed(events)}  # earliest event of each kind
    invite, answered = first.get(Event.INVITE), first.get(Event.ANSWERED)
    rejected, no_answer = first.get(Event.REJECTED), first.get(Event.NO_ANSWER)
    remote_bye, local_bye = first.get(Event.REMOTE_BYE), first.get(Event.LOCAL_BYE)
    unexpected = _UNEXPECTED_STATUS.search(errors)

    status: int | None = None
    if answered:
        status = 200
    elif rejected:
        status = int(rejected.detail)
    elif unexpected and int(unexpected.group(1)) >= 300:
        status = int(unexpected.group(1))  # a final response the scenario does not list; SIPp ACKed it

    ended_by: EndedBy = "error"
    end_at: float | None = None
    error: str | None = None
    if remote_bye and (not local_bye or remote_bye.at <= local_bye.at):
        ended_by, end_at = "hotline", remote_bye.at
    elif local_bye:
        ended_by, end_at = "caller", local_bye.at
        if Event.BYE_ANSWERED not in first and Event.END in first:
            error = f"no 200 OK to our BYE within {TRANSACTION_TIMEOUT_MS / 1000:g} s"
    elif status is not None and not answered:
        ended_by = "hotline"
    elif no_answer:
        error = f"no answer from {target} within {max_call_s:g} s ({no_answer.detail})"

    if killed:
        error = f"sipp did not finish within its time limit and was killed ({_last_words(stderr)})"
    elif ended_by == "error" and error is None:
        reason = _sipp_errors(errors) or _last_words(stderr) or "no reason given"
        if invite is None:
            error = f"sipp could not place the call (exit {exit_code}): {reason}"
        elif answered:
            error = f"the call broke off (sipp exit {exit_code}): {reason}"
        else:
            error = f"the call failed (sipp exit {exit_code}): {reason}"

    return CallReport(
        status=status,
        answered=answered is not None,
        setup_ms=round((answered.at - invite.at) * 1000, 1) if answered and invite else None,
        ended_by=ended_by,
        duration_s=round(end_at - answered.at, 3) if answered and end_at else 0.0,
        audio=audio,
        sipp_exit=exit_code,
        error=error,
    )


async def run_sipp(command: list[str], cwd: Path, deadline_s: float) -> tuple[int, str, bool]:
    """(exit code, stderr, killed): SIPp normally ends itself; past the deadline we kill our child."""
    process = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,  # SIPp's refreshing statistics screen: nothing to keep
        stderr=asyncio.subprocess.PIPE)
    assert process.stderr is not None
    stderr = asyncio.create_task(process.stderr.read())
    killed = False
    try:
        await asyncio.wait_for(process.wait(), deadline_s)
    except TimeoutError:
        killed = True
        process.kill()
        await process.wait()
    except BaseException:
        # Cancelled (the caller's task was): never leave a SIPp running the call on its own.
        if process.returncode is None:
            process.kill()
            await asyncio.shield(process.wait())
        stderr.cancel()
        raise
    return (process.returncode if process.returncode is not None else -1,
            (await stderr).decode("utf-8", "replace"), killed)


async def run_sipp_on_free_ports(command: Callable[[], list[str]], cwd: Path,
                                 deadline_s: float) -> tuple[int, str, bool]:
    """`run_sipp` of `command()`, built again (fresh ports) while SIPp could not bind one of its ports."""
    for _ in range(BIND_ATTEMPTS - 1):
        exit_code, stderr, killed = await run_sipp(command(), cwd, deadline_s)
        if not bind_clash(stderr):
            return exit_code, stderr, killed
    return await run_sipp(command(), cwd, deadline_s)


def bind_clash(stderr: str) -> bool:
    """SIPp stopped at start because a port it was given was taken (by then)."""
    return _BIND_CLASH.search(stderr) is not None


@contextlib.contextmanager
def _work_folder(work_dir: Path | None) -> Iterator[Path]:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
        yield work_dir
        return
    with tempfile.TemporaryDirectory(prefix="hotline-testcall-") as folder:
        yield Path(folder)


def write_speech(path: Path, seconds: float) -> Path:
    """SIPp's speech capture looped into one RTP stream of at least ``seconds`` (``looped_capture``)."""
    path.write_bytes(looped_capture(SPEAK_PCAP.read_bytes(), seconds))
    return path


def write_key_pcaps(folder: Path, stock: Sequence[Path]) -> list[Path]:
    """One capture per press with strictly increasing RTP seq/timestamps, so Asterisk takes repeats."""
    paths = []
    for press, source in enumerate(stock):
        path = folder / f"key{press:02d}_{source.stem.removeprefix('dtmf_2833_')}.pcap"
        path.write_bytes(renumber_rtp(source.read_bytes(), first_seq=1000 + 20 * press,
                                      first_timestamp=8000 * (press + 1)))
        paths.append(path)
    return paths


def free_port(host: str) -> int:
    """A UDP port free right now on `host` (SIPp binds it a moment later: see `run_sipp_on_free_ports`)."""
    with socket.socket(_family(host), socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def free_media_port(host: str) -> int:
    """A free port whose +2 is free too: SIPp binds -mp for audio and -mp + 2 for video."""
    for _ in range(50):
        with socket.socket(_family(host), socket.SOCK_DGRAM) as audio, \
                socket.socket(_family(host), socket.SOCK_DGRAM) as video:
            audio.bind((host, 0))
            port = int(audio.getsockname()[1])
            if port + 2 > 65535:
                continue
            try:
                video.bind((host, port + 2))
            except OSError:
                continue
            return port
    raise PbxUnreachable(f"no free UDP port pair for SIPp's media on {host}")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def read_log(path: Path) -> str:
    """A SIPp log or error file as text; "" when SIPp never wrote it (it did not start, or logged nothing)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


def _sipp_errors(errors: str) -> str:
    """SIPp's error log in one line: the first line of each entry (entries start with a timestamp, which
    SIPp does not always put on a new line), without its routine receive-timeout notes."""
    entries = [entry.strip().splitlines()[0] for entry in _SIPP_STAMP.split(errors) if entry.strip()]
    wanted = [e for e in entries if not e.startswith("The following events") and "receive timeout" not in e]
    return "; ".join(wanted)[:400]


def _last_words(stderr: str) -> str:
    """SIPp's last stderr line that is not its routine pcap-loading chatter."""
    chatter = ("In pcap", "max pkt length", "base port", "Resolving remote host")
    lines = [line.strip() for line in stderr.splitlines() if line.strip() and not line.startswith(chatter)]
    return lines[-1][:300] if lines else ""
