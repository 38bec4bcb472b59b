"""SIPp scenario text for a scripted hotline caller, and the RTP captures it plays.

No processes and no sockets; the only I/O is reading a capture to learn its length. `caller_scenario`
renders the XML that `runner.place_call` hands to SIPp; `parse_events` reads back the
``testcall|<event>|<detail>|<timestamp>`` lines the scenario writes with ``<log>`` actions, so the log
format lives in this one module. The pcap helpers read SIPp's
stock RFC 2833 captures (Debian package sip-tester) and renumber them: every capture carries the same
SSRC and a fixed RTP timestamp, and Asterisk drops a DTMF event whose timestamp is not newer than the last
one it ended, so pressing "1,1" or "2,1" with the stock files would lose keys.
Collaborators: sipp_xml.py renders the XML elements; runner.py writes the renumbered pcaps and the
scenario to disk and runs SIPp.

How the scenario handles what the hotline does (SIPp 3.6 semantics):

- Two ``optional="global"`` receives (BYE, INVITE) sit before the answer: SIPp looks backwards for a
  global receive when a message arrives that the current step does not expect, so a BYE or re-INVITE
  during any later pause jumps to its handler.
- The re-INVITE handler answers 200 with our SDP, takes the ACK and jumps back through the ``resume``
  variable to the pause slice it interrupted. Waits are cut into slices of at most `sipp_xml.SLICE_MS`
  so an interruption restarts one slice, not the whole wait.
- Final responses other than 2xx are optional receives (`REJECT_CODES`) that log the status, ACK and end;
  anything else is an unexpected message that SIPp aborts on, and lands in its error log.
"""

from __future__ import annotations

import functools
import math
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from xml.sax.saxutils import quoteattr

from engine.errors import DomainError
from engine.testcall.sipp_xml import (
    TRANSACTION_TIMEOUT_MS,
    Script,
    add_reinvite_answer,
    document,
    nop,
    ok_reply,
    recv,
    sdp,
    send,
    slices,
)

SIPP_PCAP_DIR = Path("/usr/share/sip-tester")
KEYS = "0123456789*#"
LOG_PREFIX = "testcall"
# Final INVITE responses logged as a rejection; others still end the call (unexpected-message abort).
REJECT_CODES = (300, 301, 302, 305, 380, 400, 401, 402, 403, 404, 405, 406, 407, 408, 410, 413, 414, 415,
                416, 420, 421, 423, 480, 481, 482, 483, 484, 485, 486, 487, 488, 491, 493, 500, 501, 502,
                503, 504, 505, 513, 580, 600, 603, 604, 606)

_KEY_FILE_NAMES = {"*": "star", "#": "pound"}
_NUMBER = re.compile(r"^\+?[0-9A-Za-z*._-]{1,64}$")


class BadTestCall(DomainError):
    """A test call was asked for something a SIP caller cannot do (unknown key, odd caller id)."""

    code = "bad-test-call"


class Event(StrEnum):
    """What the scenario logs; the runner turns the sequence into a `CallReport`."""

    INVITE = "invite"
    PROVISIONAL = "provisional"
    ANSWERED = "answered"
    REJECTED = "rejected"
    NO_ANSWER = "no_answer"
    KEY = "key"
    SPEAK = "speak"
    REINVITE = "reinvite"
    REMOTE_BYE = "remote_bye"
    LOCAL_BYE = "local_bye"
    BYE_ANSWERED = "bye_answered"
    END = "end"


@dataclass(frozen=True)
class LogEvent:
    event: Event
    detail: str
    at: float  # wall-clock seconds (SIPp's gettimeofday), comparable with time.time()


def parse_events(text: str) -> list[LogEvent]:
    """The scenario's events from a SIPp ``-log_file``, in order; other lines are ignored."""
    events: list[LogEvent] = []
    for line in text.splitlines():
        parts = line.split("|", 3)
        if len(parts) != 4 or parts[0] != LOG_PREFIX:
            continue
        try:
            event = Event(parts[1])
            # SIPp's [timestamp] is "date<TAB>time<TAB>epoch.micro"; the epoch is the part we compare.
            at = float(parts[3].split()[-1])
        except (ValueError, IndexError):
            continue
        events.append(LogEvent(event, parts[2], at))
    return events


# --------------------------------------------------------------------------------------------- pcaps


def check_call(*, dialed: str, caller_id: str, keys: Sequence[str]) -> None:
    """Refuse what a SIP caller cannot do, before anything starts (numbers go into SIP headers verbatim)."""
    for name, number in (("dialed number", dialed), ("caller id", caller_id)):
        if not _NUMBER.match(number):
            raise BadTestCall(f"{name} {number!r} is not a plain SIP user part")
    for key in keys:
        dtmf_pcap(key)


def dtmf_pcap(key: str) -> Path:
    """SIPp's stock RFC 2833 capture for one key (payload type 101, 140 ms)."""
    if len(key) != 1 or key not in KEYS:
        raise BadTestCall(f"cannot press {key!r}: keys are one of {KEYS}")
    return SIPP_PCAP_DIR / f"dtmf_2833_{_KEY_FILE_NAMES.get(key, key)}.pcap"


@dataclass(frozen=True)
class _Record:
    seconds: float
    offset: int  # of the packet bytes in the file
    length: int


# libpcap magic -> (struct byte order, seconds per timestamp fraction unit)
_PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
               b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9)}


def _records(data: bytes) -> tuple[str, int, list[_Record]]:
    """(struct byte order, link type, packet records) of a classic libpcap file."""
    if len(data) < 24:
        raise ValueError("not a pcap file: too short")
    if data[:4] not in _PCAP_MAGIC:
        raise ValueError("not a libpcap file (pcapng is not supported by SIPp either)")
    order, unit = _PCAP_MAGIC[data[:4]]
    link_type = struct.unpack_from(order + "I", data, 20)[0]
    records, offset = [], 24
    while offset + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack_from(order + "IIII", data, offset)
        records.append(_Record(sec + frac * unit, offset + 16, incl))
        offset += 16 + incl
    return order, link_type, records


@functools.lru_cache(maxsize=64)
def pcap_duration_ms(path: str | Path) -> int:
    """Time from the first to the last packet of a capture, rounded up: what one play keeps SIPp busy."""
    _order, _link, records = _records(Path(path).read_bytes())
    if not records:
        return 0
    return int(-(-(records[-1].seconds - records[0].seconds) * 1000 // 1))


def _rtp_offset(data: bytes, record: _Record, link_type: int) -> int | None:
    """Offset of the RTP header inside one captured UDP packet, or None for anything else."""
    start, end = record.offset, record.offset + record.length
    if link_type == 1:  # Ethernet, possibly one VLAN tag
        ether_type = int.from_bytes(data[start + 12:start + 14], "big")
        ip = start + 14
        if ether_type == 0x8100:
            ether_type, ip = int.from_bytes(data[start + 16:start + 18], "big"), start + 18
    elif link_type == 113:  # Linux cooked capture
        ether_type, ip = int.from_bytes(data[start + 14:start + 16], "big"), start + 16
    else:
        return None
    if ether_type == 0x0800 and data[ip + 9] == 17:
        udp = ip + (data[ip] & 0x0F) * 4
    elif ether_type == 0x86DD and data[ip + 6] == 17:
        udp = ip + 40
    else:
        return None
    return udp + 8 if udp + 8 + 12 <= end else None


def renumber_rtp(data: bytes, *, first_seq: int, first_timestamp: int) -> bytes:
    """The capture with RTP sequence numbers and timestamps shifted to start at the given values.

    Relative steps are kept (the three end-of-event retransmissions keep their shared seq/timestamp).
    SIPp recomputes UDP checksums when it loads a capture, so only the RTP header needs changing.
    """
    order, link_type, records = _records(data)
    out = bytearray(data)
    base: tuple[int, int] | None = None
    for record in records:
        rtp = _rtp_offset(data, record, link_type)
        if rtp is None:
            continue
        seq, timestamp = struct.unpack_from("!HI", data, rtp + 2)
        if base is None:
            base = (seq, timestamp)
        struct.pack_into("!HI", out, rtp + 2, (first_seq + seq - base[0]) % 0x10000,
                         (first_timestamp + timestamp - base[1]) % 0x100000000)
    if base is None:
        raise ValueError(f"no RTP over UDP found in the capture (link type {link_type}, {order!r})")
    return bytes(out)


def looped_capture(data: bytes, seconds: float) -> bytes:
    """The capture over and over for at least ``seconds``, as one stream: each pass starts one packet after
    the last one's last packet, its RTP sequence numbers and timestamps going on (``renumber_rtp``). For a phone
    that sends audio for the whole call, as a headset does (SIPp plays one capture per ``play_pcap_audio``)."""
    order, link_type, records = _records(data)
    rtp = [offset for record in records if (offset := _rtp_offset(data, record, link_type)) is not None]
    if len(rtp) < 2:
        raise ValueError("looping needs a capture of two RTP packets or more")
    (seq0, ts0), (_, ts1), (seq_n, ts_n) = (struct.unpack_from("!HI", data, offset + 2)
                                            for offset in (rtp[0], rtp[1], rtp[-1]))
    # The next pass goes on one packet after the last: the first packets' spacing and timestamp step.
    pass_s = records[-1].seconds - records[0].seconds + records[1].seconds - records[0].seconds
    seq_step, ts_step = seq_n - seq0 + 1, ts_n - ts0 + ts1 - ts0
    unit = _PCAP_MAGIC[data[:4]][1]
    out = bytearray(data[:24])
    for n in range(max(1, math.ceil(seconds / pass_s))):
        renumbered = renumber_rtp(data, first_seq=seq0 + n * seq_step, first_timestamp=ts0 + n * ts_step)
        for record in records:
            whole, fraction = divmod(round((record.seconds + n * pass_s) / unit), round(1 / unit))
            out += struct.pack(order + "IIII", whole, fraction, record.length, record.length)
            out += renumbered[record.offset:record.offset + record.length]
    return bytes(out)


# ------------------------------------------------------------------------------------------ scenario


@dataclass(frozen=True)
class _Play:
    at_ms: int  # after the 200 OK
    pcap: str
    duration_ms: int
    event: Event
    detail: str


def plan_plays(*, keys: Sequence[str], key_pcaps: Sequence[str], first_key_delay_ms: int, key_gap_ms: int,
               speak_pcap: str | None, end_ms: int) -> list[_Play]:
    """When each capture starts: keys one after another, then the speech; plays at or after `end_ms` are cut.

    A new play_pcap_audio cancels the one still running on the call (SIPp 3.6), so each play waits for the
    previous capture's full length plus the gap.
    """
    plays: list[_Play] = []
    at = first_key_delay_ms
    for key, pcap in zip(keys, key_pcaps, strict=True):
        duration = pcap_duration_ms(pcap)
        plays.append(_Play(at, pcap, duration, Event.KEY, key))
        at += duration + key_gap_ms
    if speak_pcap is not None:
        duration = pcap_duration_ms(speak_pcap)
        plays.append(_Play(at, speak_pcap, duration, Event.SPEAK, Path(speak_pcap).name))
    return [play for play in plays if play.at_ms < end_ms]


def _log(event: Event, detail: str = "") -> str:
    return f"<log message={quoteattr(f'{LOG_PREFIX}|{event}|{detail}|[timestamp]')}/>"


def caller_scenario(*, dialed: str, caller_id: str, keys: Sequence[str] = (), first_key_delay_ms: int = 1500,
                    key_gap_ms: int = 600, max_call_ms: int = 30000, hangup_after_ms: int | None = None,
                    media_port: int, media_ip: str, speak_pcap: str | None = None,
                    sipp_media_port: int | None = None, key_pcaps: Sequence[str] | None = None,
                    answer_timeout_ms: int | None = None) -> str:
    """SIPp UAC scenario: call `dialed` as `caller_id`, press `keys`, optionally speak, then end the call.

    The SDP offers PCMU, PCMA and telephone-event/101 at `media_ip`:`media_port`, our own RTP listener, so
    the runner measures what the caller hears. Give `sipp_media_port` (SIPp's ``-mp``) and the port is
    written relative to it (``[media_port+N]``): SIPp then sends the caller's RTP *from* the listener's
    port, as a real phone would, instead of from port 0 (which symmetric RTP or strict RTP may reject).
    `key_pcaps` replaces the stock capture of each press (see `renumber_rtp`), one per key.
    After the answer: wait `first_key_delay_ms`, play each key with `key_gap_ms` of quiet after its capture,
    play `speak_pcap`; then hang up at `hangup_after_ms`, or wait for the hotline's BYE up to `max_call_ms`
    (both counted from the 200 OK). `answer_timeout_ms` (default `max_call_ms`) bounds the ringing.
    For speech until the end (continuous RTP), `speak_pcap` is a `looped_capture`: one stream, its RTP
    sequence and timestamps going on. Playing the same capture again and again repeated its numbers, and
    Asterisk kept little of the repeats (a recording of a 12 s conversation held 2.3 s of it).
    """
    check_call(dialed=dialed, caller_id=caller_id, keys=keys)
    pcaps = [str(dtmf_pcap(key)) for key in keys] if key_pcaps is None else [str(p) for p in key_pcaps]
    if len(pcaps) != len(keys):
        raise BadTestCall(f"{len(keys)} keys but {len(pcaps)} captures to play them")
    if min(first_key_delay_ms, key_gap_ms, max_call_ms) < 0 or (hangup_after_ms or 0) < 0:
        raise BadTestCall("delays and durations cannot be negative")
    end_ms = hangup_after_ms if hangup_after_ms is not None else max_call_ms
    ring_ms = max(1, answer_timeout_ms if answer_timeout_ms is not None else max_call_ms)

    if sipp_media_port is None:
        media = str(media_port)
    else:
        offset = media_port - sipp_media_port
        media = f"[media_port{offset:+d}]" if offset else "[media_port]"
    offer = sdp(media_ip, media)
    uri = f"sip:{dialed}@[remote_ip]:[remote_port]"
    invite_via = f"Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch={_invite_branch()}"
    from_ = f'From: "{caller_id}" <sip:{caller_id}@[local_ip]>;tag=[pid]SIPpTag00[call_number]'
    to = f"To: <{uri}>"
    contact = f"Contact: <sip:{caller_id}@[local_ip]:[local_port]>"
    call_id = "Call-ID: [call_id]"

    s = Script()
    s.add(send(f"""
INVITE {uri} SIP/2.0
{invite_via}
{from_}
{to}
{call_id}
CSeq: 1 INVITE
{contact}
Max-Forwards: 70
User-Agent: hotline-testcall
Content-Type: application/sdp
Content-Length: [len]

{offer}""", actions=[_log(Event.INVITE)], retrans=True))

    # Ringing. Every element of the chain carries the timeout: SIPp applies the one it is waiting at.
    ring = {"timeout": str(ring_ms), "ontimeout": "no_answer"}
    s.add(recv('request="BYE"', optional="global", next="remote_bye", **ring))
    s.add(recv('request="INVITE"', optional="global", next="reinvite", **ring))
    for code in (100, 180, 181, 182, 183):
        # `ringing`: the INVITE got an answer, so giving up means CANCEL rather than just walking away.
        actions = ['<assign assign_to="ringing" value="1"/>']
        if code != 100:
            actions.append(_log(Event.PROVISIONAL, str(code)))
        s.add(recv(f'response="{code}"', actions=actions, optional="true", **ring))
    for code in REJECT_CODES:
        s.add(recv(f'response="{code}"', actions=[_log(Event.REJECTED, str(code))], optional="true",
                    next="rejected", **ring))
    s.add(recv('response="200"', rrs="true", **ring, actions=[
        _log(Event.ANSWERED, "200"),
        # Our BYE needs the answer's To (with its tag); [last_To:] would be stale after a re-INVITE.
        '<ereg regexp=".*" search_in="hdr" header="To:" assign_to="remote_to"/>',
    ]))
    # From here on a re-INVITE returns to `resume`: first to the step right after this ACK.
    s.add(send(f"""
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
[routes]
{from_}
To:[$remote_to]
{call_id}
CSeq: 1 ACK
{contact}
Max-Forwards: 70
Content-Length: 0""", actions=[f'<assign assign_to="resume" value="{s.index + 1}"/>']))

    # Connected: the timeline of plays, with sliced waits so a re-INVITE can resume where it broke in.
    def wait(total_ms: int) -> None:
        for slice_ms in slices(total_ms):
            s.add(nop(f'<assign assign_to="resume" value="{s.index + 1}"/>'))
            s.add(f'<pause milliseconds="{slice_ms}"/>')

    plays = plan_plays(keys=list(keys), key_pcaps=pcaps, first_key_delay_ms=first_key_delay_ms,
                       key_gap_ms=key_gap_ms, speak_pcap=speak_pcap, end_ms=end_ms)
    cursor = 0
    for play in plays:
        wait(play.at_ms - cursor)
        s.add(nop(f'<assign assign_to="resume" value="{s.index + 1}"/>', _log(play.event, play.detail),
                   f"<exec play_pcap_audio={quoteattr(play.pcap)}/>"))
        cursor = play.at_ms
    wait(end_ms - cursor)
    reason = "hangup_after" if hangup_after_ms is not None else "max_call"
    # A re-INVITE crossing our BYE resumes at the wait for the BYE's 200 (two elements on).
    s.add(nop(f'<assign assign_to="resume" value="{s.index + 2}"/>', _log(Event.LOCAL_BYE, reason)))
    s.add(send(f"""
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
[routes]
{from_}
To:[$remote_to]
{call_id}
CSeq: 2 BYE
{contact}
Max-Forwards: 70
Content-Length: 0""", retrans=True))
    s.add(recv('response="200"', actions=[_log(Event.BYE_ANSWERED, "200")],
                timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end"))
    s.add(nop(next_label="end"))

    s.label("remote_bye")
    s.add(send(ok_reply(contact), actions=[_log(Event.REMOTE_BYE)]))
    s.add(nop(next_label="end"))

    s.label("rejected")
    s.add(send(f"""
ACK {uri} SIP/2.0
{invite_via}
{from_}
[last_To:]
{call_id}
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0"""))
    s.add(nop(next_label="end"))

    s.label("no_answer")
    # SIPp sends nothing new while the INVITE is still being retransmitted, and a CANCEL is only allowed
    # after a provisional: a silent peer just gets left (SIPp's retransmissions stop when the call ends).
    s.add(nop(next_label="cancel", test="ringing"))
    s.add(nop(_log(Event.NO_ANSWER, "no response"), next_label="end"))
    s.label("cancel")
    s.add(send(f"""
CANCEL {uri} SIP/2.0
{invite_via}
{from_}
{to}
{call_id}
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0""", actions=[_log(Event.NO_ANSWER, "ringing")]))
    # The CANCEL's 200 and the INVITE's 487 may come in either order, or not at all from a dead peer.
    s.add(recv('response="200"', optional="true", timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end"))
    s.add(recv('response="487"', timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end"))
    s.add(send(f"""
ACK {uri} SIP/2.0
{invite_via}
{from_}
[last_To:]
{call_id}
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0"""))
    s.add(nop(next_label="end"))

    add_reinvite_answer(s, contact, offer, _log(Event.REINVITE))

    s.label("end")
    s.add(nop(_log(Event.END)))
    return document(f"hotline test call to {dialed}", s.parts)


def _invite_branch() -> str:
    # Fixed per call (not SIPp's per-message [branch]): CANCEL and the non-2xx ACK must reuse it.
    return "z9hG4bK-testcall-[pid]-[call_number]-invite"
