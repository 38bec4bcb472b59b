"""What the test caller hears: an RTP listener that measures the G.711 audio sent to it.

`RtpListener` binds a UDP port (OS-chosen) that the caller's SDP advertises, so Asterisk sends the call's
audio here rather than to SIPp. It decodes PCMU/PCMA with its own tables (the stdlib `audioop` is
deprecated and warns on import), cuts the audio into 20 ms frames and keeps each frame's energy; `report`
turns that into an `AudioReport`: how much audio arrived, how much of it was voiced, and the voiced
segments (prompts) on a timeline. Collaborators: runner.py starts it before SIPp and reports after.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SAMPLE_RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FULL_SCALE = 32768.0
SILENCE_DBFS = -120.0  # reported for digital silence, where the log would be -inf
VOICED_DBFS = -45.0  # frames louder than this count as something the caller hears
MIN_SILENCE_S = 0.4  # voiced frames closer than this belong to the same segment (one prompt)
PCMU, PCMA = 0, 8


def _ulaw_to_linear(byte: int) -> int:
    byte = ~byte & 0xFF
    exponent, mantissa = (byte >> 4) & 0x07, byte & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -magnitude if byte & 0x80 else magnitude


def _alaw_to_linear(byte: int) -> int:
    byte ^= 0x55
    exponent, mantissa = (byte >> 4) & 0x07, byte & 0x0F
    magnitude = (mantissa << 4) + 8 if exponent == 0 else ((mantissa << 4) + 0x108) << (exponent - 1)
    return magnitude if byte & 0x80 else -magnitude


DECODE: dict[int, tuple[int, ...]] = {
    PCMU: tuple(_ulaw_to_linear(b) for b in range(256)),
    PCMA: tuple(_alaw_to_linear(b) for b in range(256)),
}
# Squares and magnitudes per code byte, so a frame's energy and peak are table lookups.
_SQUARES = {pt: tuple(v * v for v in table) for pt, table in DECODE.items()}
_MAGNITUDES = {pt: tuple(abs(v) for v in table) for pt, table in DECODE.items()}


def dbfs(level: float) -> float:
    """Level (RMS or peak, in 16-bit sample units) in dB relative to full scale, floored at SILENCE_DBFS."""
    return max(SILENCE_DBFS, 20 * math.log10(level / FULL_SCALE)) if level > 0 else SILENCE_DBFS


@dataclass(frozen=True)
class AudioReport:
    """The audio the caller received. Times in `segments` are seconds after the report's origin (the 200 OK).

    `seconds` is audio received (samples / 8000, so gaps are not counted); `voiced_seconds` the part of it
    louder than VOICED_DBFS; `payload_types` every RTP payload type seen (101 = DTMF events).
    """

    packets: int = 0
    seconds: float = 0.0
    voiced_seconds: float = 0.0
    peak_dbfs: float = SILENCE_DBFS
    rms_dbfs: float = SILENCE_DBFS
    payload_types: frozenset[int] = frozenset()
    segments: list[tuple[float, float]] = field(default_factory=list)


@dataclass(frozen=True)
class _Frame:
    start: float  # arrival clock, seconds
    samples: int
    energy: int  # sum of squared samples


def _rtp_payload(packet: bytes) -> tuple[int, bytes] | None:
    """(payload type, payload) of an RTP packet, or None if it is not one."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    header = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # header extension: 4-byte header, then `length` words
        if len(packet) < header + 4:
            return None
        header += 4 + 4 * int.from_bytes(packet[header + 2:header + 4], "big")
    end = len(packet)
    if packet[0] & 0x20 and end > header:  # padding: the last byte says how much
        end -= packet[-1]
    if end < header:
        return None
    return packet[1] & 0x7F, packet[header:end]


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, listener: RtpListener) -> None:
        self._listener = listener

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._listener.feed(data, self._listener.clock())


class RtpListener:
    """Collects RTP on `host`:`port`; use ``async with RtpListener() as rtp`` or start()/close().

    `feed` is the whole measurement and takes packets from anywhere, so unit tests need no socket.
    """

    def __init__(self, host: str = "127.0.0.1", *, voiced_dbfs: float = VOICED_DBFS,
                 min_silence_s: float = MIN_SILENCE_S, clock: Callable[[], float] = time.time) -> None:
        self.host = host
        # Wall clock by default: SIPp's log timestamps (the 200 OK) are gettimeofday() too.
        self.clock = clock
        self._voiced_dbfs = voiced_dbfs
        self._min_silence_s = min_silence_s
        self._transport: asyncio.DatagramTransport | None = None
        self._port: int | None = None
        self._packets = 0
        self._payload_types: set[int] = set()
        self._frames: list[_Frame] = []
        self._peak = 0

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("RtpListener.start() has not run")
        return self._port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=(self.host, 0))
        self._transport = transport
        self._port = int(transport.get_extra_info("sockname")[1])

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def __aenter__(self) -> RtpListener:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def feed(self, packet: bytes, arrival: float) -> None:
        """Account one received datagram; non-RTP is ignored, non-G.711 payloads only counted."""
        parsed = _rtp_payload(packet)
        if parsed is None:
            return
        payload_type, payload = parsed
        self._packets += 1
        self._payload_types.add(payload_type)
        squares, magnitudes = _SQUARES.get(payload_type), _MAGNITUDES.get(payload_type)
        if squares is None or magnitudes is None or not payload:
            return
        self._peak = max(self._peak, max(magnitudes[b] for b in payload))
        # One G.711 byte is one sample; a packet of any ptime becomes consecutive 20 ms frames.
        for offset in range(0, len(payload), FRAME_SAMPLES):
            chunk = payload[offset:offset + FRAME_SAMPLES]
            energy = sum(squares[b] for b in chunk)
            self._frames.append(_Frame(arrival + offset / SAMPLE_RATE, len(chunk), energy))

    def report(self, origin: float | None = None) -> AudioReport:
        """Measurements so far; segment times relative to `origin` (default: the first packet's arrival)."""
        frames = sorted(self._frames, key=lambda f: f.start)
        if origin is None:
            origin = frames[0].start if frames else 0.0
        total_samples = sum(f.samples for f in frames)
        voiced = [f for f in frames if dbfs(math.sqrt(f.energy / f.samples)) > self._voiced_dbfs]
        segments: list[tuple[float, float]] = []
        for frame in voiced:
            start, end = frame.start - origin, frame.start - origin + frame.samples / SAMPLE_RATE
            if segments and start - segments[-1][1] < self._min_silence_s:
                segments[-1] = (segments[-1][0], max(segments[-1][1], end))
            else:
                segments.append((start, end))
        rms = math.sqrt(sum(f.energy for f in frames) / total_samples) if total_samples else 0.0
        return AudioReport(
            packets=self._packets,
            seconds=total_samples / SAMPLE_RATE,
            voiced_seconds=sum(f.samples for f in voiced) / SAMPLE_RATE,
            peak_dbfs=dbfs(self._peak),
            rms_dbfs=dbfs(rms),
            payload_types=frozenset(self._payload_types),
            segments=[(round(a, 3), round(b, 3)) for a, b in segments],
        )
