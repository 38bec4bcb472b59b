"""The surge plan at work: each queue's overflow ladder (``acd.overflow``, pure) run against the live ACD.

Once a second the plan measures every queue with a ladder (callers on the line, longest wait, service level
and arrivals over the ladder's window, agents serving and free, the reserve agents who could come), lets
the pure ladder decide, and carries out what it says: ``SignIn`` / ``SignOut`` become the agents' own
sign-in / sign-out (a sign-out asked during a call waits for the call and its wrap-up, as the agent state
machine does for any sign-out), ``Alert`` goes to the operator's alert command with its text on stdin.
Every event is written to ``overflow_events`` with the measurement that triggered it; a restarted
controller rebuilds each ladder (stage, mode, who the plan signed in) from there. Supervisors' commands
(`hotline overflow set|hold|release`, an incident's surge) arrive through ``overflow_requests``.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy
from sqlalchemy import insert, select, update

from acd import overflow
from acd.model import AgentId, QueueName
from acd.overflow import Figures, LadderEvent, LadderState, Step
from acd.state import SignIn, SignOut
from engine.clock import Clock
from engine.queueing.service import QueueService
from engine.store.overflow_tables import overflow_events, overflow_requests

log = logging.getLogger(__name__)
TICK_S = 1.0
RESTORE_ROWS = 5000


class LiveFigures:
    """Arrivals and answers per queue over a sliding window, kept in memory from the ACD's own steps."""

    def __init__(self) -> None:
        self.arrivals: dict[str, collections.deque[datetime]] = collections.defaultdict(collections.deque)
        self.answers: dict[str, collections.deque[tuple[datetime, bool]]] = collections.defaultdict(collections.deque)

    def arrived(self, queue: str, at: datetime) -> None:
        self.arrivals[queue].append(at)

    def answered(self, queue: str, at: datetime, within_target: bool) -> None:
        self.answers[queue].append((at, within_target))

    def figures(self, queue: str, now: datetime, window_min: float, aht_s: float) -> Figures:
        start = now - timedelta(minutes=window_min)
        arrivals, answers = self.arrivals[queue], self.answers[queue]
        while arrivals and arrivals[0] < start:
            arrivals.popleft()
        while answers and answers[0][0] < start:
            answers.popleft()
        level = sum(ok for _, ok in answers) / len(answers) if answers else None
        return Figures(level, len(arrivals) * 60 / max(window_min, 1e-9), aht_s)


class SurgePlan:
    def __init__(self, acd: QueueService, db: sqlalchemy.Engine, clock: Clock, tz: tzinfo,
                 alert_command: Sequence[str] = ()) -> None:
        self.acd = acd
        self.db = db
        self.clock = clock
        self.tz = tz
        self.alert_command = list(alert_command)
        self.states: dict[QueueName, LadderState] = {
            name: overflow.initial_state(name, config.overflow)
            for name, config in acd.queues.items() if config.overflow is not None}
        self.live = LiveFigures()
        self.last_alert: dict[QueueName, overflow.Alert] = {}
        self.last_reading: dict[QueueName, overflow.Reading] = {}
        self._unsaved: list[dict[str, Any]] = []
        self._alerts: set[asyncio.Task[None]] = set()

    def now(self) -> datetime:
        return self.clock.now().astimezone(self.tz)  # the night window is wall-clock time

    # -- start -----------------------------------------------------------------------------------------------
    def restore(self) -> None:
        """Take up each ladder where the journal left it (blocking: before the first call)."""
        for queue, state in list(self.states.items()):
            try:
                with self.db.connect() as conn:
                    rows = conn.execute(select(overflow_events.c.data).where(overflow_events.c.queue == queue)
                                        .order_by(overflow_events.c.id.desc()).limit(RESTORE_ROWS)).all()
            except sqlalchemy.exc.SQLAlchemyError as exc:
                log.warning("overflow %s: journal unreadable (%s); the ladder starts at normal",
                            queue, str(exc).splitlines()[0])
                continue
            events = []
            for (data,) in reversed(rows):
                try:
                    events.append(overflow.from_record(data))
                except (KeyError, ValueError, TypeError) as exc:
                    log.warning("overflow journal row for %s not understood (%s): skipped", queue, exc)
            if events:
                self.states[queue] = overflow.restore(queue, state.ladder, events)
                log.info("overflow %s: restored at stage %s", queue, self.states[queue].stage_name)

    # -- each second -----------------------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            self.tick()
            requests = await asyncio.to_thread(self._pending_requests)
            answers = [(request_id, self.command(queue, action, stage, reason))
                       for request_id, queue, action, stage, reason in requests]
            if answers or self._unsaved:  # an idle second opens no write transaction
                await asyncio.to_thread(self._save_and_answer, answers)
            await asyncio.sleep(TICK_S)

    def measure(self) -> dict[QueueName, overflow.Measurement]:
        now = self.now()
        figures = {q: self.live.figures(q, now, s.ladder.service_level_window_min, self.acd.average_handle_s)
                   for q, s in self.states.items()}
        skills = {q: self.acd.queues[q].skills for q in self.states}
        agents = [line.agent for line in self.acd.lines.values()]
        return overflow.measure_all(self.states, skills, agents, self.acd.statuses, self.acd.waiting.values(),
                                    now, figures)

    def tick(self) -> None:
        if not self.states:
            return
        measured = self.measure()
        for queue, measurement in measured.items():
            self.last_reading[queue] = measurement.reading
        self.states, events = overflow.evaluate_all(self.states, measured, self.now())
        for event in events:
            self._carry_out(event)

    def command(self, queue: str, action: str, stage: str | None, reason: str | None) -> str:
        """A supervisor's `overflow set|hold|release` (or an incident's surge): "ok" or why not."""
        state = self.states.get(QueueName(queue))
        if state is None:
            return f"queue {queue!r} has no overflow ladder"
        now = self.now()
        step: Step
        if action == "set":
            target = stage or ""
            index = int(target) if target.isdigit() else state.ladder.index_of(target)
            if index is None or not 0 <= index <= len(state.ladder.stages):
                names = ", ".join(state.ladder.stage_name(i) for i in range(len(state.ladder.stages) + 1))
                return f"no stage {target!r} in the {queue} ladder (stages: {names})"
            measurement = self.measure()[QueueName(queue)]
            step = overflow.set_stage(state, index, measurement, now, reason or "set by hand")
        elif action == "hold":
            step = overflow.hold(state, now, reason or "held by hand")
        else:
            step = overflow.release(state, now, reason or "released by hand")
        self.states[QueueName(queue)], events = step
        for event in events:
            self._carry_out(event)
        return "ok"

    def _carry_out(self, event: LadderEvent) -> None:
        """Journal the event, then do what it commands."""
        record = overflow.to_record(event)
        self._unsaved.append({"queue": event.queue, "at": event.at, "kind": record["kind"], "data": record})
        match event:
            case overflow.SignIn(agent=agent, stage=stage):
                refused = self.acd.agent_event(AgentId(agent), SignIn())
                log.info("overflow %s: stage %s signs in agent %s%s", event.queue, stage, agent,
                         f" (refused: {refused})" if refused else "")
            case overflow.SignOut(agent=agent, stage=stage, after_call=after_call):
                refused = self.acd.agent_event(AgentId(agent), SignOut())
                log.info("overflow %s: stage %s signs out agent %s%s%s", event.queue, stage, agent,
                         " after the call" if after_call else "", f" (refused: {refused})" if refused else "")
            case overflow.StageChanged(from_stage=before, to_stage=after, reason=reason):
                log.warning("overflow %s: stage %s -> %s (%s; %s)", event.queue, before, after, reason,
                            event.reading.describe())
            case overflow.Alert(text=text):
                self.last_alert[event.queue] = event
                log.error("overflow %s: %s", event.queue, text)
                self._send_alert(text)
            case overflow.Skipped(unregistered=unregistered, tier=tier) if unregistered:
                log.warning("overflow %s: %s agents not registered, skipped: %s", event.queue, tier,
                            ", ".join(unregistered))

    def _send_alert(self, text: str) -> None:
        if not self.alert_command:
            return
        task = asyncio.get_running_loop().create_task(self._run_alert_command(text))
        self._alerts.add(task)
        task.add_done_callback(self._alerts.discard)

    async def _run_alert_command(self, text: str) -> None:
        try:
            process = await asyncio.create_subprocess_exec(
                *self.alert_command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE)
            _, err = await asyncio.wait_for(process.communicate(text.encode()), 30)
        except (OSError, TimeoutError) as exc:
            log.error("overflow alert command %s failed: %s", self.alert_command[0], exc)
            return
        if process.returncode != 0:
            log.error("overflow alert command %s exited %s: %s", self.alert_command[0], process.returncode,
                      err.decode(errors="replace").strip()[:200])

    # -- the database (worker thread) ------------------------------------------------------------------------
    def _pending_requests(self) -> list[tuple[int, str, str, str | None, str | None]]:
        try:
            with self.db.connect() as conn:
                rows = conn.execute(select(overflow_requests.c.id, overflow_requests.c.queue,
                                           overflow_requests.c.action, overflow_requests.c.stage,
                                           overflow_requests.c.reason)
                                    .where(overflow_requests.c.done_at.is_(None))
                                    .order_by(overflow_requests.c.id)).all()
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("surge plan cannot read requests: %s", str(exc).splitlines()[0])
            return []
        return [(int(r[0]), str(r[1]), str(r[2]), r[3], r[4]) for r in rows]

    def _save_and_answer(self, answers: list[tuple[int, str]]) -> None:
        rows, self._unsaved = self._unsaved, []
        try:
            with self.db.begin() as conn:
                if rows:
                    conn.execute(insert(overflow_events), rows)
                for request_id, result in answers:
                    # A request the CLI withdrew meanwhile (nobody answered in time) keeps its withdrawal.
                    conn.execute(update(overflow_requests).where(overflow_requests.c.id == request_id,
                                                                 overflow_requests.c.done_at.is_(None))
                                 .values(done_at=self.clock.now(), result=result[:200]))
        except sqlalchemy.exc.SQLAlchemyError as exc:
            # Kept for the next round: the ladder's journal loses nothing while the database is away.
            self._unsaved = rows + self._unsaved
            log.warning("surge plan cannot write its journal: %s", str(exc).splitlines()[0])

    # -- live view -------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Per queue: the stage and how it got there, and who the plan signed in (for `hotline status`)."""
        out: dict[str, Any] = {}
        for queue, state in self.states.items():
            reading = self.last_reading.get(queue)
            alert = self.last_alert.get(queue)
            out[queue] = {
                "stage": state.stage_name, "index": state.stage, "stages": len(state.ladder.stages),
                "since": state.since.isoformat() if state.since else None, "mode": str(state.mode),
                "night": state.night, "measured": reading.describe() if reading else None,
                "signed_in": [{"agent": e.agent, "tier": e.tier, "stage": e.stage, "at": e.at.isoformat()}
                              for e in state.signed_in],
                "leaving": [e.agent for e in state.leaving],
                "alert": alert.text if alert else None,
            }
        return out

    def plan_agents(self) -> Mapping[str, tuple[str, str]]:
        """Agent -> (queue, stage) for every agent a ladder signed in."""
        return {e.agent: (q, e.stage) for q, s in self.states.items() for e in s.signed_in}
