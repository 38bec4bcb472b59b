"""`hotline run` (the controller) and `hotline up` (PBX up, then the controller) in the foreground."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from pathlib import Path

import click

from engine import logging_setup
from engine.app import run_controller
from engine.cli.context import CliContext, pass_cli
from engine.cli.pbx import control_for, write_agents
from engine.errors import PbxLoginFailed
from engine.pbx.checks import check_pbx
from engine.private_files import lock_down, restrict_process
from engine.settings import Settings
from engine.store.migrate import upgrade
from engine.systemd_notify import feed_watchdog

log = logging.getLogger(__name__)
# Once the controller has stopped, the process leaves within this many seconds.
EXIT_DEADLINE_S = 10.0


def _log_dir(settings: Settings) -> Path:
    return settings.data_dir / "logs"


async def _serve(settings: Settings) -> None:
    lock_down(settings.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    watchdog = asyncio.create_task(feed_watchdog())  # under systemd: READY=1, then pings from this loop
    try:
        await run_controller(settings, stop)
    finally:
        _exit_deadline(EXIT_DEADLINE_S)
        watchdog.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watchdog


def _exit_deadline(seconds: float) -> None:
    """Leave within ``seconds`` even if a worker thread is stuck: asyncio.run waits for every thread of
    its executor (a blocked database or Asterisk CLI call), and a stopped controller that does not exit
    holds the data folder's lock. Seen once in a full test run: no exit 20 s after SIGTERM."""
    def leave() -> None:
        log.warning("worker threads still busy %.0f s after the controller stopped; exiting anyway", seconds)
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(seconds, leave)
    timer.daemon = True
    timer.start()


@click.command("run")
@click.option("-v", "--verbose", is_flag=True, help="Log every ARI event (DEBUG).")
@pass_cli
def run(obj: CliContext, verbose: bool) -> None:
    """Run the controller in the foreground, printing each call as it happens (Ctrl-C stops)."""
    restrict_process()
    logging_setup.configure(verbose, _log_dir(obj.settings))
    asyncio.run(_serve(obj.settings))


@click.command("up")
@click.option("-v", "--verbose", is_flag=True, help="Log every ARI event (DEBUG).")
@pass_cli
def up(obj: CliContext, verbose: bool) -> None:
    """Start the PBX (if needed), migrate the journal, check that ARI and AMI accept our logins, then run
    the controller in the foreground. Any failed check: one `error:` line naming it, exit 3."""
    settings = obj.settings
    upgrade(settings.db_url)
    control = control_for(settings)
    control.write_config()
    write_agents(settings)
    control.start(click.echo)
    # Asterisk running is not enough: a controller whose logins are refused would serve nobody.
    failed = [r for r in check_pbx(control) if not r.ok]
    if failed:
        raise PbxLoginFailed("; ".join(r.line for r in failed))
    # Logging only now: the checks' own chatter is not the operator's business.
    restrict_process()
    logging_setup.configure(verbose, _log_dir(settings))
    click.echo(f"hotline {settings.hotline_number} is up: SIP {settings.pbx.sip_bind}:{settings.pbx.sip_port}; "
               f"try `.venv/bin/hotline call {settings.hotline_number}` in another terminal")
    asyncio.run(_serve(settings))
