"""The journey's agents: N SIP accounts made by ``hotline agent import``, each a registered SIPp softphone.

``provision`` writes the CSV (work numbers from ``first``, skill ``general``, tier inbound), runs
``hotline agent import`` (one PBX reload) and reads the new passwords from its 0600 credentials file.
``AgentFloor`` starts one ``SippAgent`` per account (answer after ``answer_after_s``, hang up after the
talk time), registers them a few at a time, waits until the controller sees every softphone registered and
signs them all in (``hotline agent login``); the baseline's static members are the same endpoints.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.pbx_session import sign_in_agents, until_agents
from engine.testcall.agent import AgentEvent, SippAgent
from tests.pbx.harness import hotline

REGISTER_AT_ONCE = 10


@dataclass(frozen=True)
class Account:
    work_number: str
    sip_user: str
    password: str


def provision(config_file: Path, folder: Path, count: int, first: int = 3001) -> list[Account]:
    """``count`` new agents from work number ``first`` on; their SIP accounts with passwords."""
    folder.mkdir(parents=True, exist_ok=True)
    roster = folder / "agents.csv"
    with roster.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["work_number", "name", "skills", "tier"])
        for n in range(first, first + count):
            writer.writerow([str(n), f"Bench agent {n}", "general", "inbound"])
    credentials = folder / "agent-credentials.csv"
    credentials.unlink(missing_ok=True)
    out = hotline(config_file, "agent", "import", str(roster), "--credentials", str(credentials), "--json",
                  timeout=120).stdout
    created = json.loads(out)["created"]
    if len(created) != count:
        raise RuntimeError(f"agent import created {len(created)} of {count} agents (work numbers in use?)")
    with credentials.open(encoding="utf-8") as fh:
        return [Account(row["work_number"], row["sip_user"], row["password"]) for row in csv.DictReader(fh)]


def member_lines(accounts: Sequence[Account], wrapup_s: float) -> str:
    """The baseline queue's static members and its after-call work (``hotline-bench-members.conf``)."""
    lines = [f"wrapuptime = {round(wrapup_s)}"]
    lines += [f"member => PJSIP/{a.sip_user}" for a in accounts]
    return "\n".join(lines) + "\n"


class AgentFloor:
    """The softphones of ``accounts``, registered and signed in while inside ``async with``."""

    def __init__(self, accounts: Sequence[Account], sip_port: int, talk_s: float, folder: Path,
                 answer_after_s: float = 0.3) -> None:
        self.accounts = list(accounts)
        self._sip_port = sip_port
        self._talk_s = talk_s
        self._answer_after_s = answer_after_s
        self._folder = folder
        self._stack = AsyncExitStack()
        self.phones: list[SippAgent] = []
        # One SIPp answers for every account (each registers its Contact at that SIPp's port).
        self.answering: SippAgent | None = None

    async def __aenter__(self) -> AgentFloor:
        await self._stack.__aenter__()
        try:
            self.answering = SippAgent(sip_user="agent-floor", password="", target_port=self._sip_port,
                                       answer_after_s=self._answer_after_s, hangup_after_s=self._talk_s,
                                       register=False, work_dir=self._folder / "answering")
            await self._stack.enter_async_context(self.answering)
            for a in self.accounts:
                phone = SippAgent(sip_user=a.sip_user, password=a.password, target_port=self._sip_port,
                                  register=False, work_dir=self._folder / a.work_number, expires_s=3600,
                                  contact_port=self.answering.port)
                await self._stack.enter_async_context(phone)
                self.phones.append(phone)
            for start in range(0, len(self.phones), REGISTER_AT_ONCE):
                batch = self.phones[start:start + REGISTER_AT_ONCE]
                statuses = await asyncio.gather(*(p.register() for p in batch))
                refused = [p.sip_user for p, s in zip(batch, statuses, strict=True) if s != 200]
                if refused:
                    raise RuntimeError(f"registration refused for {refused}")
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def sign_in(self, config_file: Path, timeout_s: float = 60) -> None:
        """Wait until the controller sees every softphone registered, then sign every agent in."""
        await sign_in_agents(config_file, {a.work_number for a in self.accounts}, timeout_s)

    async def wait_available(self, config_file: Path, timeout_s: float) -> bool:
        numbers = {a.work_number for a in self.accounts}
        try:
            await until_agents(config_file, numbers, "available", lambda a: a.get("state") == "available", timeout_s)
        except TimeoutError:
            return False
        return True

    def answered(self) -> int:
        return self.answering.calls_answered if self.answering is not None else 0

    def ring_to_answer_s(self, since: float = 0.0) -> list[float]:
        """Per call answered after ``since`` (epoch s), the softphone's INVITE to its answer (ACK in), s."""
        out: list[float] = []
        if self.answering is None:
            return out
        # Calls overlap in the one answering SIPp: pair each answer with its INVITE by SIPp's call number.
        invited: dict[str, float] = {}
        for event in self.answering.events():
            if event.event is AgentEvent.INVITE:
                invited[event.detail] = event.at
            elif event.event is AgentEvent.ANSWERED and event.detail in invited:
                invite = invited.pop(event.detail)
                if invite >= since:
                    out.append(event.at - invite)
        return out
