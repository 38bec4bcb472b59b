"""The agents' desk: what reaches the ACD from outside a call.

- feature codes dialled on a softphone (``*1`` sign in ... ``*5`` end after-call work) arrive as channels in
  the Stasis app; the desk applies them, says OK or sorry, and hangs up;
- SIP registration of the agents' endpoints (read every second, and at once after reconnects);
- supervisors' requests from the CLI (table ``agent_requests``), answered with the result;
- the provisioned agents list, re-read from the database so `hotline agent add` needs no restart;
- the live snapshot for `hotline status` (a JSON file in the data folder, rewritten when it changed).

The one-second round is the controller's fixed cost while idle, so it does little when nothing changed: its
three reads share one connection and one worker-thread hop, the agents are rebuilt only when their rows
changed, and the snapshot file is only touched (its age tells readers the controller is alive) when nothing
but the clock moved; ``read_snapshot`` brings the clock-driven figures up to date for the reader.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, func, or_, select, update

from acd.model import Agent, AgentId, AgentState, CallUid, QueueName
from acd.restore import FRESH_START_REASONS, JournalRow, restored_state
from acd.routing import agents_serving, waiting_in
from acd.state import AgentEvent, EndAfterCallWork, Pause, Resume, SignIn, SignOut
from engine.agents.store import list_agents
from engine.call_session import CallSession
from engine.clock import Clock
from engine.errors import PbxUnreachable
from engine.pbx.ari import AriClient, AriError
from engine.pbx.ari_events import ChannelId, Connected, EndpointStateChange, Event, PlaybackId, StasisStart
from engine.queueing.roster import AgentLine
from engine.queueing.service import QueueService
from engine.queueing.transfer import ScriptRequest, Transfer
from engine.scripts.silent_call import SilentVariant
from engine.store.agent_journal_tables import agent_events, agent_requests, call_requests
from engine.store.agent_tables import agents

log = logging.getLogger(__name__)
IN_CALL_STATES = frozenset({AgentState.RINGING.value, AgentState.ON_CALL.value, AgentState.ON_HOLD.value})
# Feature names as the agents' dialplan passes them (*1 .. *5).
FEATURES: dict[str, AgentEvent] = {"sign_in": SignIn(), "sign_out": SignOut(), "pause": Pause("break"),
                                   "resume": Resume(), "end_acw": EndAfterCallWork()}
# What the desk builds an agent's line from: when none of it changed, there is nothing to rebuild.
ROSTER_COLUMNS = (agents.c.work_number, agents.c.name, agents.c.skills, agents.c.tier, agents.c.sip_user)
# The snapshot's figures that move with the clock alone (read_snapshot recomputes time in state). A queue's
# longest wait moves too, but only while callers wait, when the floor is not idle: rewritten then. The event
# loop's wake-ups and their summed lag grow every second (engine.loop_lag); a late wake-up rewrites the file.
CLOCK_FIELDS = frozenset({"at", "in_state_s", "checks", "total_lag_ms"})


AgentRequest = tuple[int, str, str, str | None]
"""A supervisor's request about an agent (id, agent, action, reason), from ``agent_requests``."""


@dataclass(frozen=True)
class CallRequest:
    """A supervisor's request about a live call (`hotline call transfer|silent`), from ``call_requests``."""

    id: int
    call_uid: str
    action: str
    target_queue: str | None
    target_agent: str | None
    script: str | None


def request_event(action: str, reason: str | None) -> AgentEvent:
    match action:
        case "login":
            return SignIn()
        case "logout":
            return SignOut()
        case "pause":
            return Pause(reason or "supervisor")
        case "resume":
            return Resume()
        case _:
            return EndAfterCallWork()


class AgentDesk:
    def __init__(self, service: QueueService, ari: AriClient, db: sqlalchemy.Engine, clock: Clock,
                 status_file: Path) -> None:
        self.service = service
        self.ari = ari
        self.db = db
        self.clock = clock
        self.status_file = status_file
        self._tasks: set[asyncio.Task[None]] = set()
        # How to reach a live call's task (the supervisor sets it): transfers are delivered to its inbox.
        self.find_call: Callable[[str], CallSession | None] = lambda _uid: None
        # The controller's tasks that are down and restarting (shown as "degraded" by `hotline status`).
        self.health: Callable[[], dict[str, str]] = dict
        # The ARI client's requests and events so far (the composition root supplies it).
        self.ari_traffic: Callable[[], dict[str, int]] = dict
        self.gc_pauses: Callable[[], dict[str, float | int]] = dict
        self.loop_lag: Callable[[], dict[str, float | int]] = dict
        # The surge plan's view (per queue: stage, who it signed in) and agent -> (queue, stage) it signed in.
        self.overflow_view: Callable[[], dict[str, Any]] = dict
        self.plan_agents: Callable[[], Mapping[str, tuple[str, str]]] = dict
        # The agents' rows as last built into lines, and the last written snapshot without its clock fields.
        self._roster: Sequence[object] | None = None
        self._written: object = None
        # Each endpoint's registration state as last handed to the queue service (emptied to hand all again).
        self._endpoints: dict[str, str] = {}

    # -- events from the ARI stream ---------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        match event:
            case Connected():
                self._spawn(self.after_connect())
            case StasisStart(channel=channel, args=("agent-feature", code, *rest)):
                self._spawn(self._feature(channel.id, code, rest[0] if rest else channel.caller_number))
            case EndpointStateChange(resource=resource, state=state):
                self._endpoints[resource] = state
                self.service.registration(resource, state == "online")

    def _spawn(self, job: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("agent desk job failed", exc_info=task.exception())

    async def _feature(self, channel: ChannelId, code: str, number: str) -> None:
        agent = AgentId(number)
        event = FEATURES.get(code)
        refused = "unknown feature" if event is None else self.service.agent_event(agent, event)
        log.info("feature %s from agent %s: %s", code, agent, refused or "done")
        prompt = "feature-done" if refused is None else "feature-refused"
        with contextlib.suppress(AriError):
            await self.ari.play(channel, f"sound:hotline/{prompt}", PlaybackId(f"{channel}-fc"))
            await asyncio.sleep(2.5)
        with contextlib.suppress(AriError):
            await self.ari.hangup(channel)

    async def after_connect(self) -> None:
        """Registration states may have changed while we were away: look at all of them now."""
        self._endpoints = {}
        await self.read_registrations()

    async def read_registrations(self) -> None:
        # Polled, not subscribed: an `endpoint:PJSIP` subscription would also send every caller's channel
        # events a second time (seen: each DTMF key twice).
        try:
            states = await self.ari.endpoint_states()
        except (AriError, OSError) as exc:
            log.warning("could not read the agents' registrations: %s", exc)
            return
        # Only the changes: each hand-over scans the agents' lines (endpoints x agents every second).
        changed = {resource: state for resource, state in states.items() if self._endpoints.get(resource) != state}
        for resource, state in changed.items():
            self.service.registration(resource, state == "online")
        self._endpoints.update(changed)

    # -- periodic work ----------------------------------------------------------------------------------
    def refresh_agents(self) -> None:
        lines = {AgentId(r.work_number): AgentLine(Agent(AgentId(r.work_number), r.name, r.skills, r.tier), r.sip_user)
                 for r in list_agents(self.db)}
        self.service.set_agents(lines)

    def journaled_histories(self) -> dict[AgentId, list[JournalRow]]:
        """Each agent's journaled rows (from_state, to_state, reason) in order, from its last fresh start.

        Earlier rows cannot change what ``acd.restore`` makes of them (``fresh_start``: signed out, signed
        in, or offered a call, which only happens with no request pending), so an agent's history is a few
        rows since its last call or sign-in, however long it has worked. One query; an agent with no fresh
        start in the journal gets all its rows.
        """
        is_fresh = or_(agent_events.c.to_state == AgentState.LOGGED_OUT.value,
                       agent_events.c.reason.in_(sorted(FRESH_START_REASONS)))
        starts = (select(agent_events.c.agent, func.max(agent_events.c.id).label("start_id"))
                  .where(is_fresh).group_by(agent_events.c.agent).subquery())
        query = (select(agent_events.c.agent, agent_events.c.from_state, agent_events.c.to_state,
                        agent_events.c.reason)
                 .outerjoin(starts, starts.c.agent == agent_events.c.agent)
                 .where(agent_events.c.id >= func.coalesce(starts.c.start_id, 0))
                 .order_by(agent_events.c.agent, agent_events.c.id))
        histories: dict[AgentId, list[JournalRow]] = {}
        with self.db.connect() as conn:
            for agent, from_state, to_state, reason in conn.execute(query):
                histories.setdefault(AgentId(str(agent)), []).append((str(from_state), str(to_state), reason))
        return histories

    def last_states(self) -> dict[AgentId, tuple[AgentState, str | None]]:
        """The state (logged_out, available or paused) and pause reason each journaled agent comes back in:
        the last journaled state, unless a sign-out or pause asked for during a call still waited for it to
        end (``acd.restore``)."""
        return {agent: restored_state(rows) for agent, rows in self.journaled_histories().items()}

    def start(self) -> None:
        """Before the first call: the provisioned agents, in the states the journal last saw them; those
        it last saw on a call wait for the re-adoption of the calls Asterisk still holds."""
        self.refresh_agents()
        histories = self.journaled_histories()
        in_call = [agent for agent, rows in histories.items() if rows and rows[-1][1] in IN_CALL_STATES]
        self.service.restore({agent: restored_state(rows) for agent, rows in histories.items()}, in_call)

    def pending_requests(self) -> list[AgentRequest]:
        with self.db.connect() as conn:
            return _agent_requests(conn)

    def pending_call_requests(self) -> list[CallRequest]:
        with self.db.connect() as conn:
            return _call_requests(conn)

    def read_round(self) -> tuple[bool, list[AgentRequest], list[CallRequest]]:
        """The round's reads, in one connection: whether the agents changed (then their lines are rebuilt),
        the pending agent requests and the pending call requests."""
        with self.db.connect() as conn:
            roster = conn.execute(select(*ROSTER_COLUMNS).where(agents.c.removed_at.is_(None))
                                  .order_by(agents.c.work_number)).all()
            pending = _agent_requests(conn), _call_requests(conn)
        changed = roster != self._roster
        if changed:
            self.refresh_agents()
            self._roster = roster
            self._endpoints = {}  # new lines start unregistered: hand every registration over again
        return (changed, *pending)

    def apply_call_request(self, request: CallRequest) -> str:
        """Deliver a supervisor's transfer or silent-call handover to the live call; "ok" or why not."""
        call = self.find_call(request.call_uid)
        if call is None or CallUid(request.call_uid) not in self.service.conversations:
            return "the call is not talking to an agent right now"
        event = self._request_event(request)
        if isinstance(event, str):
            return event
        call.inbox.put_nowait(event)
        return "ok"

    def _request_event(self, request: CallRequest) -> Transfer | ScriptRequest | str:
        """The event the request stands for, or why it cannot be done."""
        if request.action == "silent":
            variant = request.script or SilentVariant.SILENT
            if variant not in tuple(SilentVariant):
                return f"no silent-call script {variant!r} (known: {', '.join(SilentVariant)})"
            return ScriptRequest(variant=variant)
        queue, agent = request.target_queue, request.target_agent
        if queue is not None and QueueName(queue) not in self.service.queues:
            return f"no queue {queue!r}"
        if agent is not None and AgentId(agent) not in self.service.lines:
            return f"no agent {agent}"
        return Transfer(queue=queue, agent=agent)

    def answer_call_request(self, request_id: int, result: str) -> None:
        with self.db.begin() as conn:
            conn.execute(update(call_requests).where(call_requests.c.id == request_id)
                         .values(done_at=self.clock.now(), result=result[:200]))

    def answer_request(self, request_id: int, result: str) -> None:
        with self.db.begin() as conn:
            conn.execute(update(agent_requests).where(agent_requests.c.id == request_id)
                         .values(done_at=self.clock.now(), result=result[:200]))

    async def run(self) -> None:
        while True:
            try:
                _, requests, call_requests_ = await asyncio.to_thread(self.read_round)
                await self.read_registrations()
                for request_id, agent, action, reason in requests:
                    refused = self.service.agent_event(AgentId(agent), request_event(action, reason))
                    await asyncio.to_thread(self.answer_request, request_id, refused or "ok")
                for request in call_requests_:
                    answer = self.apply_call_request(request)
                    await asyncio.to_thread(self.answer_call_request, request.id, answer)
                await asyncio.to_thread(self.write_snapshot)
            except sqlalchemy.exc.SQLAlchemyError as exc:
                log.warning("agent desk cannot reach the database: %s", str(exc).splitlines()[0])
            except (PbxUnreachable, AriError) as exc:
                # Asterisk restarting: the desk keeps its round (registrations come back with it).
                log.warning("agent desk cannot reach the PBX: %s", exc)
                with contextlib.suppress(OSError):
                    await asyncio.to_thread(self.write_snapshot)
            await asyncio.sleep(1.0)

    # -- live view ------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        now = self.clock.now()
        overflow = self.overflow_view()
        by_plan = self.plan_agents()
        tiers = {a: line.agent.tier for a, line in self.service.lines.items()}
        waiting = list(self.service.waiting.values())
        agents = [line.agent for line in self.service.lines.values()]
        queues = []
        for name, config in sorted(self.service.queues.items()):
            mine = waiting_in(name, waiting)
            on_line = [w for w in mine if not w.callback]
            longest = max(((now - w.enqueued_at).total_seconds() for w in on_line), default=0.0)
            queues.append({"queue": name, "waiting": len(on_line), "longest_wait_s": round(longest, 1),
                           "callbacks": len(mine) - len(on_line),
                           "agents_serving": agents_serving(config, agents, self.service.statuses),
                           "overflow": overflow.get(name)})
        return {
            "at": now.isoformat(),
            "degraded": self.health(),
            "ari": self.ari_traffic(),
            "gc": self.gc_pauses(),
            "loop": self.loop_lag(),
            "queues": queues,
            "agents": [{"agent": s.agent, "state": str(s.state), "since": s.since.isoformat(),
                        "in_state_s": round((now - s.since).total_seconds(), 1), "reason": s.reason,
                        "registered": s.registered, "tier": tiers.get(s.agent),
                        "signed_in_by_plan": "/".join(by_plan[s.agent]) if s.agent in by_plan else None}
                       for s in sorted(self.service.statuses.values(), key=lambda s: s.agent)],
        }

    def write_snapshot(self) -> None:
        """Rewrite the live status file if anything but the clock moved since the last write, else touch it."""
        snapshot = self.snapshot()
        lasting = _without_clock(snapshot)
        if lasting == self._written:
            try:
                os.utime(self.status_file)
            except OSError:
                pass  # gone (removed by hand?): written again below
            else:
                return
        tmp = self.status_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(snapshot, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.status_file)
        self._written = lasting


def _agent_requests(conn: Connection) -> list[AgentRequest]:
    rows = conn.execute(select(agent_requests.c.id, agent_requests.c.agent, agent_requests.c.action,
                               agent_requests.c.reason).where(agent_requests.c.done_at.is_(None))
                        .order_by(agent_requests.c.id)).all()
    return [(int(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


def _call_requests(conn: Connection) -> list[CallRequest]:
    rows = conn.execute(select(call_requests.c.id, call_requests.c.call_uid, call_requests.c.action,
                               call_requests.c.target_queue, call_requests.c.target_agent,
                               call_requests.c.script).where(call_requests.c.done_at.is_(None))
                        .order_by(call_requests.c.id)).all()
    return [CallRequest(int(r[0]), str(r[1]), str(r[2]), r[3], r[4], r[5]) for r in rows]


def _without_clock(value: object) -> object:
    """``value`` (a snapshot or part of one) without the figures that move with the clock alone."""
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k not in CLOCK_FIELDS}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


def read_snapshot(status_file: Path, max_age_s: float = 5.0) -> dict[str, Any] | None:
    """The controller's latest snapshot, or None when there is none or it is stale (controller stopped).

    The controller touches the file every second and rewrites it only when something changed, so its age
    (modification time) says whether the controller is alive, and each agent's time in state is brought up
    to now here, from ``since``.
    """
    try:
        age_s = time.time() - status_file.stat().st_mtime
        data: dict[str, Any] = json.loads(status_file.read_text(encoding="utf-8"))
        taken = datetime.fromisoformat(data["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if age_s > max_age_s:
        return None
    now = datetime.now(taken.tzinfo or UTC)
    for agent in data.get("agents", []):
        with contextlib.suppress(KeyError, TypeError, ValueError):
            agent["in_state_s"] = round((now - datetime.fromisoformat(agent["since"])).total_seconds(), 1)
    return data
