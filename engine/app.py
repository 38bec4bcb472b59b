"""Composition root: the only place that builds the concrete classes and wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from datetime import timedelta
from pathlib import Path

import sqlalchemy

from acd.model import CallUid
from acd.queues import QueueConfig, load_queues
from acd.state import AcwPolicy
from engine.call_position import CallPosition
from engine.call_session import CallSession
from engine.callbacks.dialer import CallbackDialer
from engine.calls import CallFlow, CallSupervisor
from engine.clock import SystemClock
from engine.errors import SettingsError
from engine.fallback_journal import FallbackCdrReader
from engine.fallback_journal import journal_entries as fallback_entries
from engine.fallback_messages import FallbackMessages
from engine.gc_pauses import GcPauses, unwatch, watch
from engine.incidents import IncidentBoard
from engine.ivr.call_flow import ivr_call_flow
from engine.ivr.library import FlowLibrary
from engine.ivr.ports import SelfService
from engine.ivr.prompts import flow_prompts
from engine.ivr.runner import IvrServices
from engine.loop_lag import LoopLag
from engine.pbx.ami import AmiSession
from engine.pbx.ari import AriClient
from engine.pbx.ari_events import ACTED_ON, ChannelId
from engine.pbx.control import PbxControl
from engine.pbx.credentials import for_settings
from engine.pbx.layout import PbxLayout
from engine.position_book import PositionBook
from engine.prompts.build import build_prompts
from engine.prompts.catalog import PROMPTS
from engine.prompts.tts import synthesize
from engine.queueing.desk import AgentDesk
from engine.queueing.service import QueueService
from engine.queueing.site import SiteLine
from engine.queueing.surge import SurgePlan
from engine.scripts.leave_message import MessageBox
from engine.security.sip_bans import BanBook, SipGuard
from engine.selfservice.db_source import DbSelfService
from engine.selfservice.http_source import HttpSelfService
from engine.selfservice.password_key import load_or_create
from engine.settings import Settings
from engine.store.database import check_database, make_engine, sqlite_file
from engine.store.journal import JournalEntry, JournalWriter
from engine.store.queries import open_calls, previous_call_at
from engine.supervision import TaskSupervisor, controller_lock

log = logging.getLogger(__name__)
FALLBACK_POLL_SECONDS = 3.0
LIVE_STATUS_FILE = "live-status.json"
REFRESH_SECONDS = 2.0
# The journal writer waits this long after an entry for more to commit with it (they are safe meanwhile in
# its write-ahead file): a transaction per entry cost more than anything else the writer did.
JOURNAL_LINGER_S = 0.2
# How far back a starting controller looks for calls left open by its predecessor.
UNSEEN_CALLS_WINDOW = timedelta(hours=24)


async def _idle() -> None:
    await asyncio.Event().wait()


def spill_path(settings: Settings) -> Path:
    return settings.data_dir / "journal-spill.jsonl"


def ahead_path(settings: Settings) -> Path:
    return settings.data_dir / "journal-ahead.jsonl"


def positions_path(settings: Settings) -> Path:
    return settings.data_dir / "call-positions"


async def _poll_fallback_calls(reader: FallbackCdrReader, journal: JournalWriter, box: FallbackMessages) -> None:
    """Journal the calls the dialplan fallback took while no controller was there, and make the messages
    their callers left work items. File and database work in threads; the journal on the loop's thread."""
    while True:
        try:
            found, end = await asyncio.to_thread(reader.read_new)
            for call, mark in found:
                message = await asyncio.to_thread(box.save, call)
                for entry in fallback_entries(call, message):
                    journal.append(entry)
                reader.commit(mark)
            if end is not None:
                reader.commit(end)
            if found:
                log.info("journaled %d call(s) answered by the fallback while the controller was away", len(found))
        except (OSError, sqlalchemy.exc.SQLAlchemyError) as exc:
            log.warning("could not take in the fallback calls: %s", exc)
        await asyncio.sleep(FALLBACK_POLL_SECONDS)


async def _build_flow_prompts(library: FlowLibrary, layout: PbxLayout) -> None:
    # The catalog too: an upgraded engine may bring prompts the install step never rendered.
    written = await asyncio.to_thread(build_prompts, layout.prompt_dir,
                                      PROMPTS + flow_prompts(library.flows.values()))
    if written:
        log.info("rendered %d new prompt file(s) for the flows", len(written))


async def _keep_current(library: FlowLibrary, board: IncidentBoard, journal_db: sqlalchemy.Engine,
                        layout: PbxLayout, clock: SystemClock) -> None:
    """Incidents start and stop, and flow files change, while calls go on: pick them up within seconds."""
    while True:
        await asyncio.to_thread(board.refresh, journal_db, clock.now())
        if library.reload_if_changed():
            await _build_flow_prompts(library, layout)
        await asyncio.sleep(REFRESH_SECONDS)


def _self_service(settings: Settings, journal_db: sqlalchemy.Engine) -> SelfService:
    if settings.self_service_url:
        return HttpSelfService(settings.self_service_url, settings.self_service_timeout)
    return DbSelfService(journal_db, load_or_create(settings.password_key_path), settings.self_service_timeout)


async def run_controller(settings: Settings, stop: asyncio.Event, flow: CallFlow | None = None) -> None:
    """Run until ``stop`` is set: ARI events -> call tasks, journal writer, fallback-call reader.
    One controller per data folder: a second one is refused (ControllerRunning)."""
    with controller_lock(settings.data_dir):
        pauses = watch()
        try:
            await _run_controller(settings, stop, flow, pauses)
        finally:
            unwatch(pauses)


def _unseen_call_closer(supervisor: CallSupervisor, journal: JournalWriter, db: sqlalchemy.Engine,
                        clock: SystemClock) -> Callable[[set[ChannelId], Collection[str]], None]:
    """After each reconciliation: close the journal's open calls that are live nowhere (their callers hung
    up while no controller ran), so no call stays open for ever. Runs in the background."""
    running: set[asyncio.Task[None]] = set()

    async def close(live: set[str], closed_here: set[str]) -> None:
        # The last run's unwritten entries first: they may close some of these calls.
        await journal.wait_replayed()
        try:
            rows = await asyncio.to_thread(open_calls, db, clock.now() - UNSEEN_CALLS_WINDOW)
        except sqlalchemy.exc.SQLAlchemyError as exc:
            log.warning("could not look for calls left open: %s", str(exc).splitlines()[0])
            return
        for uid, served in rows:
            if uid in live or uid in closed_here or ChannelId(uid) in supervisor.calls:
                continue
            journal.append(JournalEntry(call_uid=uid, kind="call.ended", at=clock.now(), data={
                "outcome": "completed" if served else "abandoned", "cause": "ended_while_no_controller"}))
            log.info("call %s ended while no controller ran: closed in the journal", uid)

    def start(live: set[ChannelId], closed_here: Collection[str]) -> None:
        task = asyncio.get_running_loop().create_task(close({str(c) for c in live}, set(closed_here)))
        running.add(task)
        task.add_done_callback(running.discard)

    return start


def _check_sites(queues: Iterable[QueueConfig], settings: Settings) -> None:
    """A queue may only overflow to a site the settings define (the queue file cannot know them)."""
    for queue in queues:
        for key in ("on_max_wait", "on_no_agent"):
            kind, _, site = getattr(queue, key).partition(":")
            if kind == "site" and site not in settings.overflow_sites:
                known = ", ".join(settings.overflow_sites) or "none is set"
                raise SettingsError(f"{queue.file}:{queue.lines.get(key, queue.line)}: queue '{queue.name}' {key} "
                                    f"names overflow site '{site}', which the settings do not define "
                                    f"(overflow_sites: {known})")


def _lock_down(settings: Settings) -> None:
    """The data folder holds the journal (caller numbers), credentials and messages: owner only."""
    settings.data_dir.chmod(0o700)
    database = sqlite_file(settings.db_url)
    if database is not None and database.exists():
        database.chmod(0o600)


async def _run_controller(settings: Settings, stop: asyncio.Event, flow: CallFlow | None,
                          pauses: GcPauses) -> None:
    check_database(settings.db_url)
    _lock_down(settings)
    library = FlowLibrary(settings.flows_folder)  # refuses to start on an invalid flow
    creds = for_settings(settings)
    layout = PbxLayout.from_settings(settings)
    await _build_flow_prompts(library, layout)
    clock = SystemClock()
    journal_db = make_engine(settings.db_url)
    board = IncidentBoard()
    board.refresh(journal_db, clock.now())
    services = IvrServices(self_service=_self_service(settings, journal_db), incidents=board, tz=settings.tz)
    queues = load_queues(settings.queues_path)
    _check_sites(queues.values(), settings)
    layout.recordings_dir.mkdir(parents=True, exist_ok=True)
    layout.recordings_dir.chmod(0o700)  # recordings are personal data

    async def speak(text: str) -> str:
        return await synthesize(text, settings.language, layout.prompt_dir)

    journal = JournalWriter(settings.db_url, spill_path(settings), ahead_path=ahead_path(settings),
                            linger_s=JOURNAL_LINGER_S)
    ami = AmiSession(host="127.0.0.1", port=settings.pbx.ami_port, user=creds.ami_user,
                     password=creds.ami_password)
    # Failed SIP authentications (AMI security events) ban their source for a while: a PJSIP acl.
    guard = SipGuard(BanBook(settings.pbx.sip_ban_failures, settings.pbx.sip_ban_window_s,
                             settings.pbx.sip_ban_seconds, frozenset(settings.pbx.sip_ban_never)),
                     clock, PbxControl(settings, creds).apply_sip_bans)
    ami.on_auth_failure(guard.on_failure)
    reader = FallbackCdrReader(layout.fallback_cdr_file, settings.data_dir / "fallback-cdr.offset")
    fallback_box = FallbackMessages(journal_db, layout.fallback_message_file, clock.now)
    async with AriClient(host="127.0.0.1", port=settings.pbx.ari_port, user=creds.ari_user,
                         password=creds.ari_password, app=settings.stasis_app) as ari:
        acd = QueueService(ari, journal, clock, queues, layout.recordings_dir,
                           AcwPolicy(settings.acw_seconds, settings.max_missed_offers), speak,
                           lambda caller, uid: previous_call_at(journal_db, caller, uid))
        acd.sites = SiteLine(ari, settings.overflow_sites, settings.hotline_number, acd.note_recording)
        desk = AgentDesk(acd, ari, journal_db, clock, settings.data_dir / LIVE_STATUS_FILE)
        desk.start()
        surge = SurgePlan(acd, journal_db, clock, settings.tz, settings.overflow_alert_command)
        surge.restore()
        acd.on_arrival, acd.on_answer = surge.live.arrived, surge.live.answered
        desk.overflow_view, desk.plan_agents = surge.snapshot, surge.plan_agents
        box = MessageBox(ari, journal_db, layout.recordings_dir, clock)
        dialer = CallbackDialer(acd, ari, journal_db, clock, settings.callback, settings.tz, settings.hotline_number)
        chosen_flow: CallFlow = flow or ivr_call_flow(library, services, settings.hotline_number, speak, acd, box,
                                                      dialer)

        def readopted(positions: Mapping[CallUid, CallPosition]) -> None:
            acd.readopt_agents(positions)
            dialer.readopted()

        positions = PositionBook(positions_path(settings))
        supervisor = CallSupervisor(ari, journal, chosen_flow, clock, settings.stasis_app, side_events=desk.on_event,
                                    on_readopt=readopted, positions=positions)
        supervisor.resume_callback = dialer.resumed_flow
        desk.find_call = lambda uid: supervisor.calls.get(ChannelId(uid))
        supervisor.close_unseen = _unseen_call_closer(supervisor, journal, journal_db, clock)
        dialer.start_outbound = supervisor.start_outbound
        tasks = TaskSupervisor()
        desk.health = lambda: dict(tasks.degraded)
        desk.ari_traffic = ari.traffic
        desk.gc_pauses = pauses.figures
        lag = LoopLag()
        desk.loop_lag = lag.figures
        restartable: dict[str, Callable[[], Awaitable[None]]] = {
            "callbacks": dialer.run if dialer.enabled else _idle,
            "distributor": acd.run,
            "agent-desk": desk.run,
            "surge-plan": surge.run,
            "fallback-calls": lambda: _poll_fallback_calls(reader, journal, fallback_box),
            "sip-bans": guard.run,
            "refresh": lambda: _keep_current(library, board, journal_db, layout, clock),
            "loop-lag": lag.run,
        }
        helpers = [asyncio.create_task(tasks.keep_running(name, job), name=name) for name, job in restartable.items()]
        writer = asyncio.create_task(tasks.critical("journal", journal.run()), name="journal")
        calls = asyncio.create_task(tasks.critical("calls", supervisor.run(ari.events(only=ACTED_ON))), name="calls")
        try:
            with contextlib.suppress(Exception):
                await ami.connect()
            log.info("hotline controller running: app %s, number %s", settings.stasis_app, settings.hotline_number)
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({stopper, calls, writer}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            for task in done:
                if task is not stopper and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in (*helpers, calls):
                task.cancel()
            await asyncio.gather(*helpers, calls, return_exceptions=True)
            positions.close()
            try:
                reader.ingest(journal, fallback_box)
            except (OSError, sqlalchemy.exc.SQLAlchemyError) as exc:  # the next controller takes them in
                log.warning("could not take in the last fallback calls: %s", exc)
            await journal.close()  # also ends journal.run() after its last batch
            await asyncio.gather(writer, return_exceptions=True)
            ami.close()
            journal_db.dispose()
            log.info("hotline controller stopped")


__all__ = ["CallSession", "run_controller"]
