"""The test caller's SIPp scenario and DTMF captures are pure text/bytes: check them without running SIPp."""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.errors import DomainError
from engine.testcall.scenario import (
    SIPP_PCAP_DIR,
    BadTestCall,
    Event,
    caller_scenario,
    dtmf_pcap,
    looped_capture,
    parse_events,
    pcap_duration_ms,
    renumber_rtp,
)
from engine.testcall.sipp_xml import SLICE_MS

needs_captures = pytest.mark.skipif(not (SIPP_PCAP_DIR / "dtmf_2833_1.pcap").exists(),
                                    reason="SIPp's captures (package sip-tester) are not installed")
# SIPp numbers every element but labels; resume/jump targets are those numbers.
STEPS = ("send", "recv", "pause", "nop")


def scenario(**overrides: object) -> str:
    args: dict[str, object] = {"dialed": "10086", "caller_id": "13800138000", "media_port": 40000,
                               "media_ip": "127.0.0.1"}
    args.update(overrides)
    return caller_scenario(**args)  # type: ignore[arg-type]


def steps(xml: str) -> list[ET.Element]:
    return [element for element in ET.fromstring(xml) if element.tag in STEPS]


def played(xml: str) -> list[str]:
    return [Path(e.attrib["play_pcap_audio"]).name for e in ET.fromstring(xml).iter("exec")]


def invite(xml: str) -> str:
    first = steps(xml)[0]
    assert first.tag == "send"
    return "".join(first.itertext())


def test_scenario_is_well_formed_and_starts_with_the_invite() -> None:
    xml = scenario()
    root = ET.fromstring(xml)
    assert root.tag == "scenario"
    assert invite(xml).strip().startswith("INVITE sip:10086@[remote_ip]:[remote_port] SIP/2.0")
    labels = {e.attrib["id"] for e in root.iter("label")}
    targets = {e.attrib[a] for e in root.iter() for a in ("next", "ontimeout") if a in e.attrib}
    assert targets <= labels, targets - labels


def test_caller_id_is_in_from_and_listener_address_in_sdp() -> None:
    text = invite(scenario(caller_id="13912345678", media_port=41234, media_ip="10.1.2.3"))
    assert re.search(r'^From: "13912345678" <sip:13912345678@\[local_ip\]>;tag=', text, re.M)
    assert "c=IN IP4 10.1.2.3" in text
    assert "m=audio 41234 RTP/AVP 0 8 101" in text
    assert "a=rtpmap:101 telephone-event/8000" in text and "a=sendrecv" in text


def test_sdp_port_is_written_relative_to_sipps_media_port() -> None:
    # SIPp then sends our RTP from the listener's port; the advertised port is still the listener's.
    assert "m=audio [media_port+1234] RTP/AVP" in invite(scenario(media_port=41234, sipp_media_port=40000))
    assert "m=audio [media_port-7] RTP/AVP" in invite(scenario(media_port=39993, sipp_media_port=40000))


@needs_captures
def test_each_key_plays_its_capture_in_order() -> None:
    xml = scenario(keys=["5", "*", "#", "0"])
    assert played(xml) == ["dtmf_2833_5.pcap", "dtmf_2833_star.pcap", "dtmf_2833_pound.pcap",
                           "dtmf_2833_0.pcap"]


@needs_captures
def test_pauses_leave_each_capture_time_to_finish() -> None:
    """A new play cancels the running one in SIPp, so the gap after a key is its length plus key_gap_ms."""
    assert pcap_duration_ms(dtmf_pcap("1")) == 140
    xml = scenario(keys=["1", "2"], first_key_delay_ms=1500, key_gap_ms=600)
    elements = steps(xml)
    plays = [i for i, e in enumerate(elements) if e.find("action/exec") is not None]
    between = sum(int(e.attrib["milliseconds"]) for e in elements[plays[0]:plays[1]] if e.tag == "pause")
    before = sum(int(e.attrib["milliseconds"]) for e in elements[:plays[0]] if e.tag == "pause")
    assert (before, between) == (1500, 140 + 600)
    assert all(int(e.attrib["milliseconds"]) <= SLICE_MS for e in elements if e.tag == "pause")


@needs_captures
def test_hangup_after_cuts_the_plays_and_says_why() -> None:
    xml = scenario(keys=["1", "2", "3"], first_key_delay_ms=1000, key_gap_ms=600, hangup_after_ms=1500)
    assert played(xml) == ["dtmf_2833_1.pcap"]  # the second key would start at 1740 ms
    assert "testcall|local_bye|hangup_after|" in xml
    waited = sum(int(e.attrib["milliseconds"]) for e in steps(xml) if e.tag == "pause")
    assert waited == 1500


def test_without_hangup_the_caller_waits_max_call_then_hangs_up() -> None:
    xml = scenario(max_call_ms=4000)
    assert sum(int(e.attrib["milliseconds"]) for e in steps(xml) if e.tag == "pause") == 4000
    assert "testcall|local_bye|max_call|" in xml


def test_resume_points_are_the_pauses_a_reinvite_can_interrupt() -> None:
    """The re-INVITE handler jumps back to `resume`: each assignment must name the pause after it."""
    elements = steps(scenario(max_call_ms=2500))
    for index, element in enumerate(elements):
        for assign in element.iter("assign"):
            if assign.attrib["assign_to"] == "resume":
                target_index = int(assign.attrib["value"])
                target = elements[target_index]
                assert target_index > index, index
                # The ACK resumes at whatever follows it; every later point is a pause or the BYE's 200.
                assert target.tag in {"pause", "recv"} or element.tag == "send", (index, ET.tostring(target))


def test_global_receives_precede_the_answer_and_rejections_are_listed() -> None:
    elements = steps(scenario())
    answer = next(i for i, e in enumerate(elements) if e.attrib.get("response") == "200")
    global_requests = {e.attrib["request"] for e in elements[:answer] if e.attrib.get("optional") == "global"}
    assert global_requests == {"BYE", "INVITE"}
    rejections = {e.attrib["response"] for e in elements[:answer] if e.attrib.get("next") == "rejected"}
    assert {"403", "404", "480", "486", "503", "603"} <= rejections


def test_media_port_and_caller_id_in_reinvite_answer_match_the_offer() -> None:
    xml = scenario(media_port=41000)
    assert xml.count("m=audio 41000 RTP/AVP 0 8 101") == 2  # the INVITE and the 200 to a re-INVITE


@pytest.mark.parametrize("keys", [["x"], ["12"], ["A"], [""]])
def test_unknown_keys_are_refused(keys: list[str]) -> None:
    with pytest.raises(BadTestCall) as error:
        scenario(keys=keys)
    assert isinstance(error.value, DomainError)


@pytest.mark.parametrize("field,value", [("caller_id", 'a"b'), ("caller_id", "1 2"), ("dialed", "a@b"),
                                         ("dialed", "]]>"), ("caller_id", "")])
def test_numbers_that_would_break_the_sip_message_are_refused(field: str, value: str) -> None:
    with pytest.raises(BadTestCall):
        scenario(**{field: value})


def _rtp_headers(data: bytes) -> list[tuple[int, int, int]]:
    """(seq, timestamp, event) of each packet of a stock-format capture (Ethernet/IPv4/UDP/RTP)."""
    out, offset = [], 24
    while offset < len(data):
        length = struct.unpack_from("<I", data, offset + 8)[0]
        rtp = offset + 16 + 14 + 20 + 8
        seq, timestamp = struct.unpack_from("!HI", data, rtp + 2)
        out.append((seq, timestamp, data[rtp + 12]))
        offset += 16 + length
    return out


@needs_captures
def test_renumbered_captures_keep_their_shape_with_new_seq_and_timestamp() -> None:
    stock = dtmf_pcap("1").read_bytes()
    again = renumber_rtp(stock, first_seq=65530, first_timestamp=16000)
    before, after = _rtp_headers(stock), _rtp_headers(again)
    assert len(before) == len(after) == 10 and len(stock) == len(again)
    assert [seq for seq, _, _ in after][:8] == [65530, 65531, 65532, 65533, 65534, 65535, 0, 1]
    assert {ts for _, ts, _ in after} == {16000}
    assert [e for _, _, e in before] == [e for _, _, e in after] == [1] * 10
    assert pcap_duration_ms(dtmf_pcap("1")) == 140


@needs_captures
def test_a_looped_capture_is_one_stream_with_numbers_and_times_going_on(tmp_path: Path) -> None:
    """Speech to the end of a call: the 7 s capture over and over with its RTP numbers continuing and every
    packet one packet interval after the last (the same capture replayed repeated its numbers, and Asterisk kept
    little of the repeats)."""
    stock = (SIPP_PCAP_DIR / "g711a.pcap").read_bytes()
    looped = looped_capture(stock, 20)
    headers = _rtp_headers(looped)
    assert len(headers) == 3 * len(_rtp_headers(stock))  # 3 passes of 7.08 s cover 20 s
    assert all((b[0] - a[0]) % 0x10000 == 1 and (b[1] - a[1]) % 0x100000000 == 240
               for a, b in zip(headers, headers[1:], strict=False))
    (tmp_path / "looped.pcap").write_bytes(looped)
    assert 3 * 7050 <= pcap_duration_ms(tmp_path / "looped.pcap") <= 3 * 7050 + 2 * 40


def test_non_pcap_data_is_refused() -> None:
    with pytest.raises(ValueError):
        renumber_rtp(b"not a capture at all, really", first_seq=1, first_timestamp=1)


def test_log_lines_parse_into_events_and_noise_is_skipped() -> None:
    text = ("testcall|invite||2026-01-02\t10:00:00.000000\t1767348000.000000\n"
            "some other SIPp line\n"
            "testcall|rejected|486|2026-01-02\t10:00:00.250000\t1767348000.250000\n"
            "testcall|nonsense|x|2026-01-02\t10:00:00.250000\t1767348000.250000\n")
    events = parse_events(text)
    assert [(e.event, e.detail) for e in events] == [(Event.INVITE, ""), (Event.REJECTED, "486")]
    assert events[1].at - events[0].at == pytest.approx(0.25)
