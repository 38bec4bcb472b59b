"""SIPp scenario building blocks (sipp_xml.py) are pure strings: check the shapes SIPp relies on."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from engine.testcall.sipp_xml import SLICE_MS, Script, document, nop, recv, sdp, send, slices


def test_script_counts_elements_but_not_labels() -> None:
    s = Script()
    s.add(nop())
    s.label("here")
    s.add(nop(next_label="here"))
    assert s.index == 2
    assert s.parts == ["<nop></nop>", '<label id="here"/>', '<nop next="here"></nop>']


def test_receive_without_actions_closes_itself_and_keeps_attribute_order() -> None:
    assert recv('request="BYE"', optional="global", next="bye") == '<recv request="BYE" optional="global" next="bye"/>'
    assert recv('response="200"', actions=["<a/>", "<b/>"], rrs="true") == \
        '<recv response="200" rrs="true"><action><a/><b/></action></recv>'


def test_send_strips_the_message_and_ends_it_with_a_blank_line() -> None:
    assert send("\nOPTIONS x SIP/2.0\nContent-Length: 0\n", retrans=True) == \
        '<send retrans="500"><![CDATA[\nOPTIONS x SIP/2.0\nContent-Length: 0\n\n]]></send>'


def test_nop_with_test_and_actions() -> None:
    assert nop("<x/>", next_label="end", test="full") == '<nop next="end" test="full"><action><x/></action></nop>'


def test_sdp_names_the_address_family_and_direction() -> None:
    v4, v6 = sdp("127.0.0.1", "[media_port]").splitlines(), sdp("::1", "4000", "sendonly").splitlines()
    assert "c=IN IP4 127.0.0.1" in v4 and "m=audio [media_port] RTP/AVP 0 8 101" in v4 and v4[-1] == "a=sendrecv"
    assert "c=IN IP6 ::1" in v6 and v6[-1] == "a=sendonly"


def test_slices_add_up_and_none_is_longer_than_a_slice() -> None:
    for total in (0, 1, SLICE_MS, SLICE_MS + 1, 7 * SLICE_MS - 3):
        parts = list(slices(total))
        assert sum(parts) == total and all(0 < part <= SLICE_MS for part in parts)


def test_document_is_well_formed_with_a_quoted_name() -> None:
    xml = document('call to "x" & y', [nop(), recv('request="BYE"')], header='<Global variables="taken"/>\n')
    root = ET.fromstring(xml.encode("iso-8859-1"))
    assert root.attrib["name"] == 'call to "x" & y'
    assert [child.tag for child in root] == ["Global", "nop", "recv"]
