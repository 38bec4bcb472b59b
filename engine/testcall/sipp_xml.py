"""Building blocks of SIPp scenario XML, shared by the test caller and the scripted agent.

Pure string functions: no processes, no sockets. `Script` collects elements and counts the message index
SIPp gives each one (a re-INVITE handler jumps back to a stored index); `send`, `recv` and `nop` render
one element each, `sdp` the body we offer, `ok_reply` / `add_reinvite_answer` the answers both sides give
inside a call, `slices` cuts a wait so an interruption restarts one slice, and `document` wraps the elements
into a scenario. Collaborators: scenario.py (`caller_scenario`) and
agent.py (`register_scenario`, `answer_scenario`) build their scenarios from these; each keeps its own
``<log>`` line format.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from xml.sax.saxutils import quoteattr

# Each pause is cut into slices this long: the most a re-INVITE can delay the rest of the timeline.
SLICE_MS = 500
# How long to wait for the 200 to our BYE / the ACK to our 200 before giving up on the peer.
TRANSACTION_TIMEOUT_MS = 8000


class Script:
    """Scenario elements in order; tracks the message index SIPp gives each one (labels take none)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.index = 0

    def add(self, element: str) -> None:
        self.parts.append(element)
        self.index += 1

    def label(self, name: str) -> None:
        self.parts.append(f'<label id="{name}"/>')


def nop(*actions: str, next_label: str | None = None, test: str | None = None) -> str:
    """A ``<nop>`` running `actions`, optionally jumping to `next_label` (if variable `test` is set)."""
    attrs = f' next="{next_label}"' if next_label else ""
    attrs += f' test="{test}"' if test else ""
    body = f"<action>{''.join(actions)}</action>" if actions else ""
    return f"<nop{attrs}>{body}</nop>"


def send(message: str, *, actions: Sequence[str] = (), retrans: bool = False) -> str:
    """A ``<send>`` of one SIP message (surrounding blank lines stripped); `retrans` over UDP every 500 ms."""
    attrs = ' retrans="500"' if retrans else ""
    action = f"<action>{''.join(actions)}</action>" if actions else ""
    return f"<send{attrs}>{action}<![CDATA[\n{message.strip()}\n\n]]></send>"


def recv(what: str, *, actions: Sequence[str] = (), **attrs: str) -> str:
    """A ``<recv>``: `what` is ``request="..."`` or ``response="..."``; `attrs` become XML attributes."""
    rendered = "".join(f' {name}="{value}"' for name, value in attrs.items())
    action = f"<action>{''.join(actions)}</action>" if actions else ""
    return f"<recv {what}{rendered}>{action}</recv>" if action else f"<recv {what}{rendered}/>"


def sdp(media_ip: str, port: str, direction: str = "sendrecv") -> str:
    """Our audio offer/answer: PCMU, PCMA and telephone-event/101 at `media_ip`:`port` (a number or a
    SIPp keyword such as ``[media_port+2]``)."""
    family = "IP6" if ":" in media_ip else "IP4"
    return "\n".join([
        "v=0",
        f"o=hotline-testcall 1 1 IN {family} {media_ip}",
        "s=hotline test call",
        f"c=IN {family} {media_ip}",
        "t=0 0",
        f"m=audio {port} RTP/AVP 0 8 101",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-16",
        "a=ptime:20",
        f"a={direction}",
    ])


def slices(total_ms: int) -> Iterator[int]:
    """`total_ms` cut into pauses of at most `SLICE_MS`."""
    while total_ms > 0:
        yield min(SLICE_MS, total_ms)
        total_ms -= SLICE_MS


def ok_reply(contact: str, body_sdp: str | None = None) -> str:
    """A 200 OK to the request just received (its Via, From, To, Call-ID and CSeq echoed), with our
    ``Contact:`` line and, for a re-INVITE, our SDP."""
    body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{body_sdp}" if body_sdp else "Content-Length: 0"
    return f"""SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
{contact}
{body}"""


def add_reinvite_answer(s: Script, contact: str, body_sdp: str, log: str) -> None:
    """The ``reinvite`` label the global INVITE receive jumps to: answer with our SDP, take the ACK and go
    back to the step stored in ``resume``."""
    s.label("reinvite")
    s.add(send(ok_reply(contact, body_sdp), actions=[log]))
    s.add(recv('request="ACK"', timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="reinvite_done"))
    s.label("reinvite_done")
    s.add(nop('<jump variable="resume"/>'))


def document(name: str, parts: Sequence[str], header: str = "") -> str:
    """The whole scenario file: `header` (e.g. ``<Global .../>``) then the elements, one a line."""
    return (f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name={quoteattr(name)}>\n'
            f"{header}{chr(10).join(parts)}\n</scenario>\n")
