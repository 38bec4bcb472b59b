"""A scripted agent softphone for PBX tests: SIPp registers an agent's SIP account and answers its calls.

`SippAgent` runs two SIPp processes, because one SIPp process is either a client or a server:

- a short UAC run per registration (`register_scenario`): REGISTER, the 401 digest challenge, REGISTER
  with credentials, the final answer. Its Contact names the *server* process's port, so Asterisk sends
  calls and qualify OPTIONS there; the UAC's own port is never used again. It is run again every
  ``expires_s / 2`` to refresh, and once with ``Expires: 0`` by `unregister`.
- a long-running UAS (`answer_scenario`, SIPp ``-sf`` server mode): each new Call-ID is a new SIPp call.
  Qualify OPTIONS get 200; an INVITE gets 180, then (``answer=True``) 200 with an SDP that points to
  our `RtpListener`, so the test measures what the agent hears; re-INVITEs get 200 with the same SDP;
  the call lasts until Asterisk's BYE or, with `hangup_after_s`, until the agent's own BYE. With
  ``answer=False`` the agent rings until Asterisk CANCELs (ring-no-answer). Past `calls` taken calls
  (a SIPp global counter) further INVITEs get 486 Busy Here.

Both write ``agent|<event>|<detail>|[timestamp]`` lines (SIPp ``<log>``) that the properties read back.
Caveats (SIPp 3.6): the agent sends no RTP (it only listens) unless ``talk`` (speech, looped, from SIPp's
media port); the password goes into the 0600 scenario
file in the work folder, never on SIPp's command line; killing the UAS with `stop` without `unregister`
leaves the contact registered until qualify notices (15 s + qualify timeout); calls in progress when the
context exits are cut by killing SIPp (Asterisk sees the agent go silent). Collaborators: rtp.py
(RtpListener), runner.py (free ports, process running), sipp_xml.py (XML building blocks).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Literal
from xml.sax.saxutils import quoteattr

from engine.testcall.rtp import AudioReport, RtpListener
from engine.testcall.runner import (
    BIND_ATTEMPTS,
    SIPP,
    SippNotInstalled,
    bind_clash,
    free_media_port,
    free_port,
    read_log,
    run_sipp_on_free_ports,
    write_speech,
)
from engine.testcall.sipp_xml import (
    SLICE_MS,
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

LOG_PREFIX = "agent"
# Final REGISTER answers the registration scenario expects besides 200 (logged as a refusal).
REGISTER_REFUSALS = (401, 403, 404, 407, 423, 480, 488, 500, 503)
REGISTER_TIMEOUT_S = 10.0
# What SIPp's server keeps running for at most: far beyond any test.
UAS_LIFETIME_S = 6 * 3600
# How long a talking agent talks when it waits for the caller's end (no hangup_after_s).
TALK_S = 180.0
_PLAIN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class AgentEvent(StrEnum):
    REGISTERED = "registered"
    REFUSED = "refused"
    OPTIONS = "options"
    INVITE = "invite"
    BUSY = "busy"
    ANSWERED = "answered"
    CANCELLED = "cancelled"
    REINVITE = "reinvite"
    KEYS = "keys"
    HOLD = "hold"
    UNHOLD = "unhold"
    REMOTE_BYE = "remote_bye"
    LOCAL_BYE = "local_bye"
    END = "end"


@dataclass(frozen=True)
class AgentLogEvent:
    event: AgentEvent
    detail: str
    at: float  # wall-clock seconds, comparable with time.time()


@dataclass(frozen=True, order=True)
class AgentAction:
    """Something the agent's softphone does during an answered call, ``at_s`` seconds after the answer:
    press ``keys`` (SIP INFO, one per key), or put the call on hold / take it back (re-INVITE with
    ``a=sendonly`` / ``a=sendrecv``), as a softphone's hold button does."""

    at_s: float
    kind: Literal["keys", "hold", "unhold"]
    keys: str = ""


# Pause between two keys sent as SIP INFO (a person pressing keys, and a DTMF duration apart).
KEY_GAP_MS = 300


def parse_agent_events(text: str) -> list[AgentLogEvent]:
    """The agent scenarios' events from a SIPp ``-log_file``, in order; other lines are ignored."""
    events: list[AgentLogEvent] = []
    for line in text.splitlines():
        parts = line.split("|", 3)
        if len(parts) != 4 or parts[0] != LOG_PREFIX:
            continue
        try:
            events.append(AgentLogEvent(AgentEvent(parts[1]), parts[2], float(parts[3].split()[-1])))
        except (ValueError, IndexError):
            continue
    return events


def _log(event: AgentEvent, detail: str = "") -> str:
    return f"<log message={quoteattr(f'{LOG_PREFIX}|{event}|{detail}|[timestamp]')}/>"


def _in_dialog(method: str, cseq: int, local_tag: str, contact: str, content_type: str = "", body: str = "") -> str:
    """A request the agent sends inside the call Asterisk opened (From/To turned round, its route set)."""
    content = f"{content_type}\nContent-Length: [len]\n\n{body}" if body else "Content-Length: 0"
    return f"""{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
[routes]
From:[$local_to];tag={local_tag}
To:[$remote_from]
[last_Call-ID:]
CSeq: {cseq} {method}
{contact}
Max-Forwards: 70
{content}"""


# ------------------------------------------------------------------------------------------ scenarios


def register_scenario(*, sip_user: str, password: str, contact_port: int, expires_s: int) -> str:
    """SIPp UAC: REGISTER `sip_user` with its Contact at the answering process's port; digest auth."""
    for value in (sip_user, password):
        if not _PLAIN.fullmatch(value):
            raise ValueError("SIP user and password must be plain letters, digits, '-' or '_'")
    head = f"""REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];rport;branch=[branch]
From: <sip:{sip_user}@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
To: <sip:{sip_user}@[remote_ip]>
Call-ID: [call_id]
Contact: <sip:{sip_user}@[local_ip]:{contact_port}>
Expires: {expires_s}
Max-Forwards: 70
User-Agent: hotline-testagent"""
    s = Script()
    s.add(send(f"{head}\nCSeq: 1 REGISTER\nContent-Length: 0", retrans=True))
    s.add(recv('response="401"', auth="true", timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end"))
    s.add(send(f"{head}\nCSeq: 2 REGISTER\n[authentication username={sip_user} password={password}]\n"
                "Content-Length: 0", retrans=True))
    # Refusals first: SIPp matches a response against the optional receives up to the first mandatory one.
    for code in REGISTER_REFUSALS:
        s.add(recv(f'response="{code}"', optional="true", next="end", timeout=str(TRANSACTION_TIMEOUT_MS),
                    ontimeout="end", actions=[_log(AgentEvent.REFUSED, str(code))]))
    s.add(recv('response="200"', next="end", timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end",
                actions=[_log(AgentEvent.REGISTERED, str(expires_s))]))
    s.label("end")
    s.add(nop())
    return document(f"register {sip_user}", s.parts)


def answer_scenario(*, sip_user: str, media_ip: str, media_port: int, answer: bool = True,
                    answer_after_ms: int = 0, hangup_after_ms: int | None = None, calls: int | None = None,
                    actions: Sequence[AgentAction] = (), talk_pcap: str | None = None) -> str:
    """SIPp UAS for the agent's softphone: qualify OPTIONS, then ring / answer / act / hang up as asked.
    ``talk_pcap``: a capture played from the answer on (the agent's headset sending audio all along)."""
    if answer_after_ms < 0 or (hangup_after_ms is not None and hangup_after_ms < 0):
        raise ValueError("delays cannot be negative")
    if any(a.at_s < 0 or (a.kind == "keys" and not re.fullmatch(r"[0-9*#]+", a.keys)) for a in actions):
        raise ValueError("agent actions need a time of 0 or more, and keys from 0-9 * #")
    answer_sdp = sdp(media_ip, str(media_port))
    contact = f"Contact: <sip:{sip_user}@[local_ip]:[local_port]>"
    local_tag = "[pid]SIPpTag01[call_number]"
    s = Script()
    s.add(recv('request="OPTIONS"', optional="true", next="options"))
    s.add(recv('request="INVITE"', rrs="true", actions=[
        _log(AgentEvent.INVITE, "[call_number]"),
        '<ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>',
        '<ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>',
        '<ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="invite_cseq"/>',
        '<ereg regexp=".*" search_in="hdr" header="Via:" assign_to="invite_via"/>',
        '<add assign_to="taken" value="1"/>',
    ]))
    # Asterisk's BYE, re-INVITE or CANCEL can arrive at any later step. SIPp looks for global receives
    # *behind* the current step, so they sit here, jumped over; the never-matching mandatory receive
    # satisfies SIPp's load check that a run of receives before a send has a mandatory one.
    s.add(nop(next_label="ring"))
    s.add(recv('request="BYE"', optional="global", next="remote_bye"))
    s.add(recv('request="INVITE"', optional="global", next="reinvite"))
    s.add(recv('request="CANCEL"', optional="global", next="cancelled"))
    s.add(recv('request="HOTLINE-NEVER"'))
    s.label("ring")
    if calls is not None:
        s.add(nop(f'<test assign_to="full" variable="taken" compare="greater_than" value="{calls}"/>'))
        s.add(nop(next_label="busy", test="full"))
    s.add(send(f"""SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag={local_tag}
[last_Call-ID:]
[last_CSeq:]
{contact}
Content-Length: 0"""))

    def wait(total_ms: int) -> None:
        for slice_ms in slices(total_ms):
            s.add(nop(f'<assign assign_to="resume" value="{s.index + 1}"/>'))
            s.add(f'<pause milliseconds="{slice_ms}"/>')

    if not answer:
        # Ring until Asterisk gives up (CANCEL); a re-INVITE cannot come before a 200, but SIPp refuses a
        # variable (`resume`) that is only read, so it is set here too.
        s.add(nop(f'<assign assign_to="resume" value="{s.index + 1}"/>'))
        s.add(recv('request="CANCEL"', next="cancelled"))
    else:
        wait(answer_after_ms)
        s.add(send(f"""SIP/2.0 200 OK
Via:[$invite_via]
From:[$remote_from]
To:[$local_to];tag={local_tag}
[last_Call-ID:]
CSeq:[$invite_cseq]
{contact}
Content-Type: application/sdp
Content-Length: [len]

{answer_sdp}""", retrans=True))
        s.add(recv('request="ACK"', timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end",
                    actions=[_log(AgentEvent.ANSWERED, "[call_number]")]))
        if talk_pcap is not None:
            s.add(nop(f"<exec play_pcap_audio={quoteattr(talk_pcap)}/>"))
        cursor = 0
        cseq = 1
        for action in sorted(actions):
            at_ms = round(action.at_s * 1000)
            wait(at_ms - cursor)
            cursor = max(cursor, at_ms)
            if action.kind == "keys":
                for key in action.keys:
                    cseq += 1
                    s.add(nop(f'<assign assign_to="resume" value="{s.index + 2}"/>', _log(AgentEvent.KEYS, key)))
                    s.add(send(_in_dialog("INFO", cseq, local_tag, contact,
                                           "Content-Type: application/dtmf-relay",
                                           f"Signal={key}\nDuration=160"), retrans=True))
                    s.add(recv('response="200"', timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end"))
                    wait(KEY_GAP_MS)
                    cursor += KEY_GAP_MS
            else:
                cseq += 1
                event = AgentEvent.HOLD if action.kind == "hold" else AgentEvent.UNHOLD
                offer = sdp(media_ip, str(media_port), "sendonly" if action.kind == "hold" else "sendrecv")
                s.add(nop(f'<assign assign_to="resume" value="{s.index + 2}"/>', _log(event)))
                s.add(send(_in_dialog("INVITE", cseq, local_tag, contact, "Content-Type: application/sdp", offer),
                            retrans=True))
                s.add(recv('response="100"', optional="true", timeout=str(TRANSACTION_TIMEOUT_MS),
                            ontimeout="end"))
                s.add(recv('response="200"', timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end"))
                s.add(send(_in_dialog("ACK", cseq, local_tag, contact)))
        if hangup_after_ms is None:
            s.add(nop(f'<assign assign_to="resume" value="{s.index + 1}"/>'))
            s.add(recv('request="BYE"', next="remote_bye"))
        else:
            wait(hangup_after_ms - cursor)
            s.add(nop(f'<assign assign_to="resume" value="{s.index + 2}"/>', _log(AgentEvent.LOCAL_BYE)))
            s.add(send(_in_dialog("BYE", cseq + 1, local_tag, contact), retrans=True))
            s.add(recv('response="200"', timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end"))
            s.add(nop(next_label="end"))

    s.label("remote_bye")
    s.add(send(ok_reply(contact), actions=[_log(AgentEvent.REMOTE_BYE)]))
    s.add(nop(next_label="end"))

    add_reinvite_answer(s, contact, answer_sdp, _log(AgentEvent.REINVITE))

    s.label("cancelled")
    s.add(send("""SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0""", actions=[_log(AgentEvent.CANCELLED)]))
    s.add(send(f"""SIP/2.0 487 Request Terminated
Via:[$invite_via]
From:[$remote_from]
To:[$local_to];tag={local_tag}
[last_Call-ID:]
CSeq:[$invite_cseq]
Content-Length: 0"""))
    s.add(recv('request="ACK"', timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end"))
    s.add(nop(next_label="end"))

    s.label("busy")
    s.add(send(f"""SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag={local_tag}
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0""", actions=[_log(AgentEvent.BUSY)]))
    s.add(recv('request="ACK"', timeout=str(TRANSACTION_TIMEOUT_MS), ontimeout="end"))
    s.add(nop(next_label="end"))

    s.label("options")
    s.add(send(f"""SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag={local_tag}
[last_Call-ID:]
[last_CSeq:]
{contact}
Accept: application/sdp
Content-Length: 0""", actions=[_log(AgentEvent.OPTIONS)]))
    s.add(nop(next_label="end"))

    s.label("end")
    s.add(nop(_log(AgentEvent.END)))
    return document(f"agent {sip_user}", s.parts, header='<Global variables="taken"/>\n')


# ------------------------------------------------------------------------------------------- process


class SippAgent:
    """One agent's softphone, scripted; ``async with SippAgent(...) as agent:`` registers and answers.

    `registered` is True after a REGISTER got 200 (and until `unregister`/`stop`); `register_status` is
    the last final REGISTER answer (200, 401/403 for a wrong password...). `calls_offered` counts
    INVITEs, `calls_answered` answered calls, `calls_ended` calls over; `audio()` is what the agent
    heard over all its calls. Pass ``register=False`` to register by hand (`register()` returns the
    status). Leaving the context unregisters (best effort) and stops SIPp. ``port`` fixes the answering
    port (a customer's phone behind the callback trunk, which never registers); ``actions`` are what the
    agent does during every answered call (`AgentAction`); ``talk`` has the agent send speech from each
    answer to the call's end, as a headset does (else the agent sends no audio at all). ``contact_port``
    registers the account with its Contact at another SippAgent's answering port and starts no SIPp of its
    own: one answering SIPp for a whole floor of accounts (a SIPp process costs CPU even idle; 200 of them
    took a core of the bench's two).
    """

    def __init__(self, *, sip_user: str, password: str, target_host: str = "127.0.0.1", target_port: int = 5060,
                 local_ip: str = "127.0.0.1", answer: bool = True, answer_after_s: float = 0.0,
                 hangup_after_s: float | None = None, calls: int | None = None, expires_s: int = 600,
                 register: bool = True, work_dir: Path | None = None, actions: Sequence[AgentAction] = (),
                 port: int | None = None, contact_port: int | None = None, talk: bool = False) -> None:
        if expires_s < 60:
            raise ValueError("Asterisk refuses registrations shorter than 60 s (minimum_expiration)")
        self.sip_user = sip_user
        self._password = password
        self.target = f"{target_host}:{target_port}"
        self.local_ip = local_ip
        self._answer = answer
        self._answer_after_ms = round(answer_after_s * 1000)
        self._hangup_after_ms = None if hangup_after_s is None else round(hangup_after_s * 1000)
        self._calls = calls
        self._actions = tuple(actions)
        self._talk = talk
        self.expires_s = expires_s
        self._register_on_enter = register
        self._given_dir = work_dir
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.folder = Path()
        self._fixed_port = port
        self._contact_port = contact_port
        self.port = 0
        self.register_status: int | None = None
        self.registered = False
        self._listener = RtpListener(local_ip)
        self._uas: asyncio.subprocess.Process | None = None
        self._uas_stderr: asyncio.Task[bytes] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._registrations = 0

    # -- life cycle ---------------------------------------------------------------------------------
    async def __aenter__(self) -> SippAgent:
        await self.start()
        try:
            if self._register_on_enter:
                await self.register()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            if self.registered:
                with contextlib.suppress(OSError, TimeoutError):
                    await self.unregister()
        finally:
            await self.stop()

    async def start(self) -> None:
        """Start the answering SIPp (no registration yet)."""
        sipp = shutil.which(SIPP)
        if sipp is None:
            raise SippNotInstalled("sipp is not installed: apt-get install sip-tester")
        if self._given_dir is not None:
            self._given_dir.mkdir(parents=True, exist_ok=True)
            self.folder = self._given_dir
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="hotline-testagent-")
            self.folder = Path(self._tmp.name)
        for stale in [*self.folder.glob("agent*.log"), *self.folder.glob("register-*")]:
            stale.unlink(missing_ok=True)
        if self._contact_port is not None:
            self.port = self._contact_port  # answered by the SIPp listening there
            return
        await self._listener.start()
        talk_pcap = None
        if self._talk:
            seconds = TALK_S if self._hangup_after_ms is None else self._hangup_after_ms / 1000 + 5
            talk_pcap = write_speech(self.folder / "talk.pcap", seconds).name
        scenario = answer_scenario(sip_user=self.sip_user, media_ip=self.local_ip, media_port=self._listener.port,
                                   answer=self._answer, answer_after_ms=self._answer_after_ms,
                                   hangup_after_ms=self._hangup_after_ms, calls=self._calls,
                                   actions=self._actions, talk_pcap=talk_pcap)
        (self.folder / "agent.xml").write_text(scenario, encoding="iso-8859-1")
        for attempt in range(1, BIND_ATTEMPTS + 1):
            stderr = await self._start_answering(sipp)
            if stderr is None:
                return
            # A port taken between its probe and SIPp's bind (parallel test workers): fresh ports, unless
            # the answering port was given to us.
            if not bind_clash(stderr) or attempt == BIND_ATTEMPTS or self._fixed_port is not None:
                raise RuntimeError(f"sipp (agent {self.sip_user}) exited at once: {stderr!r}")

    async def _start_answering(self, sipp: str) -> str | None:
        """Start the answering SIPp on fresh ports; its stderr if it exited at once, else None."""
        self.port = self._fixed_port or free_port(self.local_ip)
        self._uas = await asyncio.create_subprocess_exec(
            sipp, "-sf", "agent.xml", "-i", self.local_ip, "-p", str(self.port),
            # SIPp binds a media socket even though our listener carries the audio; left to SIPp's own
            # search from 6000, 200 agents starting together collided (errno 98, seen in the full bench).
            "-mp", str(free_media_port(self.local_ip)),
            "-ci", "127.0.0.1", "-cp", str(free_port("127.0.0.1")),
            "-nostdin", "-aa", "-trace_err", "-error_file", "agent-errors.log",
            "-trace_logs", "-log_file", "agent.log", "-timeout", f"{UAS_LIFETIME_S}s",
            cwd=self.folder, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE)
        assert self._uas.stderr is not None
        self._uas_stderr = asyncio.create_task(self._uas.stderr.read())
        # SIPp binds its port within milliseconds; registering before that would send calls nowhere.
        await asyncio.sleep(0.2)
        if self._uas.returncode is None:
            return None
        stderr = (await self._uas_stderr).decode("utf-8", "replace")
        self._uas, self._uas_stderr = None, None
        return stderr

    async def stop(self) -> None:
        """Stop answering at once, without unregistering (what a crashed softphone or lost network does)."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        if self._uas is not None:
            if self._uas.returncode is None:
                self._uas.kill()
            await self._uas.wait()
            self._uas = None
        if self._uas_stderr is not None:
            await self._uas_stderr
            self._uas_stderr = None
        self._listener.close()
        self.registered = False
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- registration --------------------------------------------------------------------------------
    async def register(self, expires_s: int | None = None) -> int | None:
        """REGISTER now (digest auth); the final status (None if the PBX did not answer). On 200 the
        registration is refreshed in the background at half its lifetime."""
        status = await self._register_once(self.expires_s if expires_s is None else expires_s)
        self.registered = status == 200
        if self.registered and self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh())
        return status

    async def unregister(self) -> int | None:
        """REGISTER with Expires: 0: Asterisk forgets the contact at once. The answering SIPp keeps running."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None
        status = await self._register_once(0)
        if status == 200:
            self.registered = False
        return status

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.expires_s / 2)
            self.registered = await self._register_once(self.expires_s) == 200

    async def _register_once(self, expires_s: int) -> int | None:
        sipp = shutil.which(SIPP)
        if sipp is None:
            raise SippNotInstalled("sipp is not installed: apt-get install sip-tester")
        self._registrations += 1
        name = f"register-{self._registrations}"
        path = self.folder / f"{name}.xml"
        path.touch(mode=0o600)  # the scenario holds the password
        path.write_text(register_scenario(sip_user=self.sip_user, password=self._password, contact_port=self.port,
                                          expires_s=expires_s), encoding="iso-8859-1")
        log = self.folder / f"{name}.log"
        timeout_s = math.ceil(REGISTER_TIMEOUT_S + 2 * TRANSACTION_TIMEOUT_MS / 1000)

        def command() -> list[str]:
            return [sipp, "-sf", path.name, "-m", "1", "-l", "1", "-i", self.local_ip,
                    "-p", str(free_port(self.local_ip)), "-mp", str(free_media_port(self.local_ip)),
                    "-ci", "127.0.0.1", "-cp", str(free_port("127.0.0.1")),
                    "-nostdin", "-trace_err", "-error_file", f"{name}-errors.log", "-trace_logs", "-log_file",
                    log.name, "-timeout", f"{timeout_s}s", "-timeout_error", self.target]

        try:
            await run_sipp_on_free_ports(command, self.folder, timeout_s + 5)
        finally:
            path.unlink(missing_ok=True)
        events = parse_agent_events(read_log(log))
        self.register_status = next((200 if e.event is AgentEvent.REGISTERED else int(e.detail) for e in events
                                     if e.event in (AgentEvent.REGISTERED, AgentEvent.REFUSED)), None)
        return self.register_status

    # -- what happened -------------------------------------------------------------------------------
    def events(self) -> list[AgentLogEvent]:
        """The answering side's events so far (calls, qualify pings), in order."""
        return parse_agent_events(read_log(self.folder / "agent.log"))

    def _count(self, event: AgentEvent) -> int:
        return sum(1 for e in self.events() if e.event is event)

    @property
    def calls_offered(self) -> int:
        return self._count(AgentEvent.INVITE)

    @property
    def calls_answered(self) -> int:
        return self._count(AgentEvent.ANSWERED)

    @property
    def calls_ended(self) -> int:
        return sum(1 for e in self.events() if e.event in (AgentEvent.REMOTE_BYE, AgentEvent.LOCAL_BYE,
                                                            AgentEvent.CANCELLED))

    def audio(self, origin: float | None = None) -> AudioReport:
        """What the agent heard so far, segment times after `origin` (default: the first answer)."""
        if origin is None:
            origin = next((e.at for e in self.events() if e.event is AgentEvent.ANSWERED), None)
        return self._listener.report(origin=origin)

    async def wait_for(self, event: AgentEvent, count: int = 1, timeout_s: float = 15) -> list[AgentLogEvent]:
        """Poll until `count` events of the kind have happened; TimeoutError after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            seen = [e for e in self.events() if e.event is event]
            if len(seen) >= count:
                return seen
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent {self.sip_user}: {len(seen)} of {count} {event} events "
                                   f"after {timeout_s:g} s")
            await asyncio.sleep(min(0.1, SLICE_MS / 1000))
