"""The real test-call runner against a fake hotline that is SIPp itself, as a UAS, on loopback.

Each test writes a small UAS scenario (what the hotline does), starts it on free ports, places a call with
`place_call` and checks the CallReport, and that the fake hotline's scenario completed (so the caller sent
the ACKs, 200s and BYEs it had to). The RtpListener's measurement is also checked with synthetic packets.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.errors import PbxUnreachable
from engine.testcall import agent as agent_module
from engine.testcall import runner
from engine.testcall.rtp import RtpListener
from engine.testcall.runner import CallReport, SippNotInstalled, format_report, place_call
from engine.testcall.scenario import BadTestCall

needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp is not installed (sip-tester)")
# play_pcap_audio sends through a raw socket: root or CAP_NET_RAW.
needs_raw_sockets = pytest.mark.skipif(os.geteuid() != 0, reason="SIPp plays pcaps through raw sockets")

HEADERS = """[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]"""
# Requests from the hotline reuse the INVITE's From (captured as $caller) as their To.
IN_DIALOG = """Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:hotline@[local_ip]:[local_port]>;tag=[pid]SIPpTag01[call_number]
To:[$caller]
Call-ID: [$callid]
Max-Forwards: 70
Contact: <sip:hotline@[local_ip]:[local_port]>"""


def sdp(port: int) -> str:
    return f"""Content-Type: application/sdp
Content-Length: [len]

v=0
o=hotline 1 1 IN IP4 [media_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio {port} RTP/AVP 8 101
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=sendrecv"""


def send(text: str, *, retrans: bool = False) -> str:
    attrs = ' retrans="500"' if retrans else ""
    return f"<send{attrs}><![CDATA[\n{text.strip()}\n\n]]></send>"


INVITE_IN = '<recv request="INVITE"/>'
# For scenarios where the hotline sends requests (SIPp refuses variables that are set but never used).
INVITE_IN_DIALOG = """<recv request="INVITE" rrs="true"><action>
<ereg regexp=".*" search_in="hdr" header="From:" assign_to="caller"/>
<ereg regexp=".*" search_in="hdr" header="Call-ID:" assign_to="callid"/>
</action></recv>"""
RINGING = send(f"SIP/2.0 180 Ringing\n{HEADERS}\nContent-Length: 0")
ACK_IN = '<recv request="ACK"/>'
PLAY_SPEECH = '<nop><action><exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/></action></nop>'
BYE_OUT = send(f"BYE [next_url] SIP/2.0\n{IN_DIALOG}\nCSeq: 2 BYE\nContent-Length: 0", retrans=True) + \
    '<recv response="200"/>'
BYE_IN = '<recv request="BYE" timeout="15000"/>' + \
    send("SIP/2.0 200 OK\n[last_Via:]\n[last_From:]\n[last_To:]\n[last_Call-ID:]\n[last_CSeq:]\n"
         "Content-Length: 0")


def answer(media_port: int) -> str:
    contact = "Contact: <sip:hotline@[local_ip]:[local_port]>"
    return send(f"SIP/2.0 200 OK\n{HEADERS}\n{contact}\n{sdp(media_port)}", retrans=True) + ACK_IN


def pause(ms: int) -> str:
    return f'<pause milliseconds="{ms}"/>'


def reinvite(media_port: int) -> str:
    """A connected-line style re-INVITE; the caller's 200 must carry its SDP (check_it fails the UAS else)."""
    return (send(f"INVITE [next_url] SIP/2.0\n{IN_DIALOG}\nCSeq: 1 INVITE\n{sdp(media_port)}", retrans=True)
            + '<recv response="200"><action><ereg regexp="m=audio [0-9]+ RTP/AVP 0 8 101" search_in="body"'
              ' check_it="true" assign_to="offer"/></action></recv>'
            + send(f"ACK [next_url] SIP/2.0\n{IN_DIALOG}\nCSeq: 1 ACK\nX-Offer: [$offer]\nContent-Length: 0"))


def reject(code: int) -> str:
    return send(f"SIP/2.0 {code} Busy Here\n{HEADERS}\nContent-Length: 0") + ACK_IN


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


class FakeHotline:
    """SIPp as the hotline (UAS) on a free port; `media` is a plain socket that collects the caller's RTP."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.media.bind(("127.0.0.1", 0))
        self.media_port = int(self.media.getsockname()[1])
        self.process: asyncio.subprocess.Process | None = None
        self.dtmf: list[tuple[int, int, int, int]] = []

    async def start(self, *steps: str) -> None:
        (self.folder / "uas.xml").write_text('<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
                                             f'<scenario name="fake hotline">{"".join(steps)}</scenario>\n')
        with (self.folder / "uas_stderr.log").open("wb") as stderr_file:
            self.process = await asyncio.create_subprocess_exec(
                "sipp", "-sf", "uas.xml", "-m", "1", "-i", "127.0.0.1", "-p", str(self.port),
                "-mi", "127.0.0.1", "-mp", str(runner.free_media_port("127.0.0.1")),
                "-ci", "127.0.0.1", "-cp", str(free_port()), "-nostdin", "-timeout", "40s", "-timeout_error",
                "-trace_msg", "-message_file", "uas_messages.log",
                "-trace_err", "-error_file", "uas_errors.log",
                cwd=self.folder, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr_file)
        deadline = time.monotonic() + 10
        while not port_taken(self.port):  # SIPp is listening once it holds its port
            stderr = (self.folder / "uas_stderr.log").read_text(errors="replace")
            assert self.process.returncode is None, f"the fake hotline exited: {stderr}"
            assert time.monotonic() < deadline, f"the fake hotline did not start: {stderr}"
            await asyncio.sleep(0.02)

    async def finished(self) -> int:
        """The UAS's exit code: 0 when its whole scenario ran, i.e. the caller did its part."""
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), 20)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        self._drain_dtmf()
        self.media.close()

    def _drain_dtmf(self) -> None:
        """Keep (source port, seq, timestamp, event) of each RFC 2833 packet the caller sent us."""
        self.media.setblocking(False)
        packets = self.dtmf
        while True:
            try:
                data, (_, source_port) = self.media.recvfrom(2048)
            except BlockingIOError:
                break
            if len(data) >= 16 and data[1] & 0x7F == 101:
                seq, timestamp = struct.unpack_from("!HI", data, 2)
                packets.append((source_port, seq, timestamp, data[12]))

    def sdp_port_offered_by_caller(self) -> int:
        log = (self.folder / "uas_messages.log").read_text()
        match = re.search(r"^m=audio (\d+) RTP/AVP 0 8 101", log, re.M)
        assert match, log
        return int(match.group(1))


def call_fake_hotline(tmp_path: Path, steps: Callable[[FakeHotline], list[str]],
                      **call: object) -> tuple[CallReport, FakeHotline, int]:
    async def scenario() -> tuple[CallReport, FakeHotline, int]:
        hotline = FakeHotline(tmp_path)
        try:
            await hotline.start(*steps(hotline))
            report = await place_call(target_port=hotline.port, dialed="10086", work_dir=tmp_path / "caller",
                                      **call)  # type: ignore[arg-type]
            return report, hotline, await hotline.finished()
        finally:
            await hotline.stop()  # the media socket keeps what the caller sent for received_dtmf()

    return asyncio.run(scenario())


@needs_sipp
@needs_raw_sockets
def test_hotline_hangs_up_and_the_caller_heard_it_and_pressed_keys(tmp_path: Path) -> None:
    """Answer, speak to the caller for 3.5 s, hang up; the caller's keys arrive renumbered, repeats kept."""
    report, hotline, uas_exit = call_fake_hotline(
        tmp_path,
        lambda h: [INVITE_IN_DIALOG, RINGING, answer(h.media_port), PLAY_SPEECH, pause(3500), BYE_OUT],
        keys=["1", "1", "2"])
    assert uas_exit == 0
    assert report.status == 200 and report.answered and report.error is None, report
    assert report.ended_by == "hotline" and 3.0 < report.duration_s < 5.0, report
    assert report.setup_ms is not None and 0 <= report.setup_ms < 1000
    assert report.sipp_exit == 0
    audio = report.audio
    assert audio.payload_types == {8} and audio.packets > 50, audio
    assert audio.seconds > 2.5 and audio.voiced_seconds > 1.0 and audio.segments, audio
    assert all(0 <= start < end <= report.duration_s + 0.5 for start, end in audio.segments), audio

    dtmf = hotline.dtmf
    assert [event for _, _, _, event in dtmf] == [1] * 10 + [1] * 10 + [2] * 10
    # Sent from the port the caller advertised, with seq and timestamps rising from press to press.
    assert {port for port, _, _, _ in dtmf} == {hotline.sdp_port_offered_by_caller()}
    seqs = [seq for _, seq, _, _ in dtmf]
    assert seqs == sorted(seqs)
    stamps = [dtmf[i][2] for i in (0, 10, 20)]
    assert stamps == sorted(set(stamps))
    assert "answered: 200" in format_report(report) and "hotline hung up" in format_report(report)


@needs_sipp
def test_caller_hangs_up_after_the_requested_time(tmp_path: Path) -> None:
    report, _, uas_exit = call_fake_hotline(
        tmp_path, lambda h: [INVITE_IN, answer(h.media_port), BYE_IN], hangup_after_s=1.5)
    assert uas_exit == 0
    assert report.answered and report.ended_by == "caller" and report.error is None, report
    assert 1.4 <= report.duration_s <= 2.5, report
    assert "caller hung up" in format_report(report)


@needs_sipp
def test_rejection_is_reported_with_its_status(tmp_path: Path) -> None:
    report, _, uas_exit = call_fake_hotline(tmp_path, lambda h: [INVITE_IN, RINGING, reject(486)])
    assert uas_exit == 0  # it got our ACK
    assert report.status == 486 and not report.answered, report
    assert report.ended_by == "hotline" and report.error is None and report.duration_s == 0.0, report
    assert report.audio.packets == 0
    assert "rejected: 486" in format_report(report)


@needs_sipp
def test_unlisted_rejection_code_still_reaches_the_report(tmp_path: Path) -> None:
    report, _, uas_exit = call_fake_hotline(tmp_path, lambda h: [INVITE_IN, reject(499)])
    assert uas_exit == 0
    assert report.status == 499 and not report.answered and report.ended_by == "hotline", report


@needs_sipp
def test_reinvite_is_answered_and_a_bye_during_keys_ends_the_call(tmp_path: Path) -> None:
    """Connected-line re-INVITE mid-call gets 200 + SDP; the hotline's BYE while keys are pending wins."""
    report, _, uas_exit = call_fake_hotline(
        tmp_path,
        lambda h: [INVITE_IN_DIALOG, answer(h.media_port), pause(300), reinvite(h.media_port), pause(1500),
                   BYE_OUT],
        keys=list("123456789"), max_call_s=10)
    assert uas_exit == 0
    assert report.answered and report.ended_by == "hotline" and report.error is None, report
    assert 1.5 <= report.duration_s < 3.0, report


@needs_sipp
def test_no_answer_gives_a_report_not_an_exception(tmp_path: Path) -> None:
    nobody = free_port()
    started = time.monotonic()
    report = asyncio.run(place_call(target_port=nobody, dialed="10086", max_call_s=1.5))
    assert time.monotonic() - started < 10
    assert report.status is None and not report.answered and report.ended_by == "error", report
    assert report.error is not None and "no answer" in report.error
    assert "not answered" in format_report(report)


def test_missing_sipp_is_a_pbx_unreachable_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SippNotInstalled, match="apt-get install sip-tester") as error:
        asyncio.run(place_call(dialed="10086"))
    assert isinstance(error.value, PbxUnreachable)


def test_bad_keys_are_refused_before_anything_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/sipp")
    with pytest.raises(BadTestCall):
        asyncio.run(place_call(dialed="10086", keys=["1", "x"]))


# ------------------------------------------------------------------------------ audio measurement


def rtp(payload_type: int, payload: bytes, seq: int = 1) -> bytes:
    return struct.pack("!BBHII", 0x80, payload_type, seq, seq * 160, 0x1234) + payload


ALAW_SILENCE, ALAW_LOUD = 0xD5, 0x1C  # A-law codes for 8 and -3264 (-20 dBFS)


def test_listener_measures_voiced_segments_separated_by_silence() -> None:
    listener = RtpListener()
    t = 100.0
    timeline = [ALAW_LOUD] * 25 + [ALAW_SILENCE] * 30 + [ALAW_LOUD] * 10  # 0.5 s, 0.6 s gap, 0.2 s
    for n, code in enumerate(timeline):
        listener.feed(rtp(8, bytes([code]) * 160, n), t + n * 0.02)
    listener.feed(rtp(101, b"\x01\x0a\x00\xa0"), t + 2)  # DTMF: counted, not audio
    listener.feed(b"\x00junk", t)  # not RTP
    report = listener.report(origin=t - 1)
    assert report.packets == 66 and report.payload_types == {8, 101}
    assert report.seconds == pytest.approx(1.3)
    assert report.voiced_seconds == pytest.approx(0.7)
    assert report.segments == [(1.0, 1.5), (2.1, 2.3)]
    assert report.peak_dbfs == pytest.approx(-20.0, abs=0.1) and report.rms_dbfs < report.peak_dbfs


def test_listener_reports_silence_and_nothing_as_silence() -> None:
    listener = RtpListener()
    assert listener.report().packets == 0 and listener.report().rms_dbfs == -120.0
    listener.feed(rtp(0, b"\xff" * 160), 5.0)  # mu-law zero
    report = listener.report()
    assert report.seconds == pytest.approx(0.02) and report.voiced_seconds == 0 and report.segments == []


def test_listener_receives_over_udp() -> None:
    async def exchange() -> int:
        async with RtpListener() as listener:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
                sender.sendto(rtp(0, b"\x80" * 160), ("127.0.0.1", listener.port))
            await _until(lambda: listener.report().packets == 1)
            return listener.report().packets

    assert asyncio.run(exchange()) == 1


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 s")



def ports_taken_first(monkeypatch: pytest.MonkeyPatch, module: object, held: int, times: int) -> list[int]:
    """`module.free_port` hands out `held` (a port someone else holds) `times` times, then real free ports:
    the race between a probe and SIPp's bind, made certain. Returns the ports handed out."""
    handed: list[int] = []
    real = runner.free_port

    def racy(host: str) -> int:
        port = held if len(handed) < times else real(host)
        handed.append(port)
        return port

    monkeypatch.setattr(module, "free_port", racy)
    return handed


@needs_sipp
def test_a_port_taken_before_sipp_binds_it_gets_a_fresh_one(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Parallel test workers probe ports from the same pool: the call is placed on fresh ports instead."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_worker:
        other_worker.bind(("127.0.0.1", 0))
        handed = ports_taken_first(monkeypatch, runner, other_worker.getsockname()[1], times=2)
        report, _, uas_exit = call_fake_hotline(
            tmp_path, lambda h: [INVITE_IN, answer(h.media_port), BYE_IN], hangup_after_s=0.5)
    assert uas_exit == 0 and report.answered and report.error is None, report
    assert len(handed) == 4  # (-p, -cp) twice: the first SIPp could not bind, the second placed the call


def test_only_sipps_own_bind_failure_counts_as_a_clash() -> None:
    assert runner.bind_clash("2026-11-29\t09:56:33.347740\t1795946193.347740: Unable to bind remote control "
                             "socket to UDP port 58194, errno = 98 (Address already in use)\n")
    assert runner.bind_clash("...: Unable to bind main socket, errno = 98 (Address already in use)")
    assert not runner.bind_clash("...: Unable to bind main socket, errno = 13 (Permission denied)")
    assert not runner.bind_clash("Call-rate(length)   Port   Total-time  Total-calls  Remote-host")


@needs_sipp
def test_an_agent_whose_port_was_taken_answers_on_a_fresh_one(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[int, int]:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_worker:
            other_worker.bind(("127.0.0.1", 0))
            held = other_worker.getsockname()[1]
            ports_taken_first(monkeypatch, agent_module, held, times=1)
            phone = agent_module.SippAgent(sip_user="agent-7", password="x" * 16, target_port=free_port(),
                                           register=False)
            await phone.start()
            try:
                return held, phone.port
            finally:
                await phone.stop()

    held, answering = asyncio.run(scenario())
    assert answering != held
    assert answering != 0


@needs_sipp
def test_an_agent_given_a_taken_port_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed port (the callback trunk's customer phone) is not swapped for another: the clash is reported."""
    async def scenario() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_process:
            other_process.bind(("127.0.0.1", 0))
            phone = agent_module.SippAgent(sip_user="agent-7", password="x" * 16, target_port=free_port(),
                                           register=False, port=other_process.getsockname()[1])
            try:
                await phone.start()
            finally:
                await phone.stop()

    with pytest.raises(RuntimeError, match="exited at once.*errno = 98"):
        asyncio.run(scenario())
