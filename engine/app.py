"""Composition root: the only place that builds the concrete classes and wires them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from engine.call_session import CallSession
from engine.calls import CallFlow, CallSupervisor
from engine.clock import SystemClock
from engine.fallback_journal import FallbackCdrReader
from engine.greeting_flow import greeting_flow
from engine.pbx.ami import AmiSession
from engine.pbx.ari import AriClient
from engine.pbx.credentials import load_or_create
from engine.pbx.layout import PbxLayout
from engine.settings import Settings
from engine.store.database import check_database
from engine.store.journal import JournalWriter

log = logging.getLogger(__name__)
FALLBACK_POLL_SECONDS = 3.0


def spill_path(settings: Settings) -> Path:
    return settings.data_dir / "journal-spill.jsonl"


async def _poll_fallback_calls(reader: FallbackCdrReader, journal: JournalWriter) -> None:
    while True:
        try:
            reader.ingest(journal)
        except OSError as exc:
            log.warning("could not read the fallback CDR file: %s", exc)
        await asyncio.sleep(FALLBACK_POLL_SECONDS)


async def run_controller(settings: Settings, stop: asyncio.Event, flow: CallFlow | None = None) -> None:
    """Run until ``stop`` is set: ARI events -> call tasks, journal writer, fallback-call reader."""
    check_database(settings.db_url)
    creds = load_or_create(settings.data_dir)
    layout = PbxLayout.from_settings(settings)
    clock = SystemClock()
    journal = JournalWriter(settings.db_url, spill_path(settings))
    ami = AmiSession(host="127.0.0.1", port=settings.pbx.ami_port, user=creds.ami_user,
                     password=creds.ami_password)
    reader = FallbackCdrReader(layout.fallback_cdr_file, settings.data_dir / "fallback-cdr.offset")
    chosen_flow: CallFlow = flow or greeting_flow
    async with AriClient(host="127.0.0.1", port=settings.pbx.ari_port, user=creds.ari_user,
                         password=creds.ari_password, app=settings.stasis_app) as ari:
        supervisor = CallSupervisor(ari, journal, chosen_flow, clock, settings.stasis_app)
        writer = asyncio.create_task(journal.run(), name="journal")
        calls = asyncio.create_task(supervisor.run(ari.events()), name="calls")
        fallback = asyncio.create_task(_poll_fallback_calls(reader, journal), name="fallback-calls")
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
            fallback.cancel()
            calls.cancel()
            await asyncio.gather(fallback, calls, return_exceptions=True)
            reader.ingest(journal)
            await journal.close()  # also ends journal.run() after its last batch
            await asyncio.gather(writer, return_exceptions=True)
            ami.close()
            log.info("hotline controller stopped")


__all__ = ["CallSession", "run_controller"]
