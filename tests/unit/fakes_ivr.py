"""Fakes for the IVR runner's ports: a scripted channel, a self-service source, incidents, a flow builder."""

from __future__ import annotations

import asyncio
import textwrap
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.call_session import CallEnded
from engine.ivr.ports import Choices, Incident, LookupResult, Say
from ivr_flows.loader import parse_flow
from ivr_flows.model import Flow


class FakeIvrChannel:
    """``keys`` are what successive ``get_digit`` calls return (None = timeout); ``typed_ahead`` is already in
    the buffer when the call starts. When ``keys`` run out, waits time out (or the caller hangs up)."""

    def __init__(self, keys: Sequence[str | None] = (), *, caller: str = "13800138000", dialed: str = "10086",
                 now: datetime | None = None, typed_ahead: str = "", hang_up_when_done: bool = False,
                 served: Sequence[bool] = (), choices: Choices | None = None) -> None:
        self._caller = caller
        self._dialed = dialed
        self.current = now or datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai, a Monday
        self.keys: deque[str | None] = deque(keys)
        self.buffer: deque[str] = deque(typed_ahead)
        self.hang_up_when_done = hang_up_when_done
        self.said: list[Say] = []
        self.barge_in: list[bool] = []
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.cleared = 0
        self.queued: tuple[str, int] | None = None
        self.hung_up = False
        self.reached_nodes: list[str] = []
        # Answers of successive to_queue calls (when used up: served); what the offer may propose.
        self.served: deque[bool] = deque(served)
        self.offered = choices or Choices(message=True, callback=True, keep_waiting=True)
        self.queue_calls: list[tuple[str, int, str | None]] = []
        self.messages: list[tuple[str, str | None]] = []
        self.callbacks: list[str] = []

    @property
    def caller(self) -> str:
        return self._caller

    @property
    def dialed(self) -> str:
        return self._dialed

    def now(self) -> datetime:
        return self.current

    async def say(self, items: Sequence[Say], *, barge_in: bool = True) -> None:
        for item in items:
            if barge_in and self.buffer:
                return
            self.said.append(item)
            self.barge_in.append(barge_in)
        await asyncio.sleep(0)

    async def get_digit(self, timeout: float) -> str | None:
        if self.buffer:
            return self.buffer.popleft()
        if not self.keys:
            if self.hang_up_when_done:
                raise CallEnded("normal_clearing")
            return None
        key = self.keys.popleft()
        if key is not None and len(key) > 1:  # a burst: the rest stays typed ahead
            self.buffer.extend(key[1:])
            key = key[0]
        return key

    def clear_type_ahead(self) -> None:
        self.cleared += 1
        self.buffer.clear()

    def note(self, kind: str, data: Mapping[str, Any] | None = None) -> None:
        self.notes.append((kind, dict(data or {})))

    async def reached(self, node: str, kept: Mapping[str, str]) -> None:
        self.reached_nodes.append(node)

    async def to_queue(self, queue: str, priority: int = 0, node: str | None = None) -> bool:
        self.queued = (queue, priority)
        self.queue_calls.append((queue, priority, node))
        return self.served.popleft() if self.served else True

    def choices(self, queue: str) -> Choices:
        return self.offered

    async def leave_message(self, queue: str, node: str | None, prompt: str) -> None:
        await self.say([Say(prompt=prompt)], barge_in=False)
        self.clear_type_ahead()
        self.messages.append((queue, node))

    async def book_callback(self, queue: str) -> None:
        self.callbacks.append(queue)

    async def hangup(self) -> None:
        self.hung_up = True

    # -- what tests look at ---------------------------------------------------------------------------------
    @property
    def prompts(self) -> list[str]:
        return [s.prompt or f"text:{s.text}" for s in self.said]

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.notes]

    def data(self, kind: str) -> list[dict[str, Any]]:
        return [data for k, data in self.notes if k == kind]

    @property
    def path(self) -> list[str]:
        return [d["node"] for d in self.data("ivr.node")]


class FakeSelfService:
    """Answers from dicts; ``delay`` makes every call slow; ``fail`` makes it raise."""

    def __init__(self, passwords: Mapping[str, str] | None = None,
                 results: Mapping[tuple[str, str], LookupResult] | None = None,
                 delay: float = 0.0, fail: bool = False, password_unavailable: bool = False) -> None:
        self.passwords = dict(passwords or {"13800138000": "123456"})
        self.results = dict(results or {})
        self.delay = delay
        self.fail = fail
        self.password_unavailable = password_unavailable
        self.checked: list[str] = []
        self.looked_up: list[tuple[str, str]] = []

    async def check_password(self, number: str, password: str) -> bool | None:
        self.checked.append(number)
        if self.password_unavailable:
            return None
        return self.passwords.get(number) == password

    async def lookup(self, kind: str, key: str) -> LookupResult:
        self.looked_up.append((kind, key))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise ConnectionError("source down")
        return self.results.get((kind, key), LookupResult("not_found"))


class FakeIncidents:
    def __init__(self, *incidents: Incident) -> None:
        self.incidents = incidents

    def active_for(self, node: str, now: datetime) -> Sequence[Incident]:
        return [i for i in self.incidents if node in i.nodes]


def flow_from(text: str, file: str = "test.yaml") -> Flow:
    return parse_flow(textwrap.dedent(text), file)
