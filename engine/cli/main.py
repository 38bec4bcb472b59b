"""Entry point of the `hotline` console script.

Exit codes: 0 ok, 1 domain error, 2 usage or bad setting, 3 PBX or database unreachable. Expected
errors print one line (``error: ...``) and never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from engine.cli import (
    agents,
    callbacks,
    calls,
    data,
    database,
    flows,
    forecast,
    incidents,
    messages,
    overflow,
    pbx,
    prompts,
    recordings,
    report,
    run,
    service,
    supervise,
    wallboard,
)
from engine.cli.context import CliContext
from engine.errors import HotlineError


class HotlineGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HotlineError as err:
            click.echo(f"error: {err.message}", err=True)
            sys.exit(err.exit_code)


@click.group(cls=HotlineGroup)
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="Settings file (default: $HOTLINE_CONFIG, then ./hotline.toml, then /etc/hotline/hotline.toml).")
@click.pass_context
def cli(ctx: click.Context, config_file: Path | None) -> None:
    """hotline: a customer-service hotline engine on a real Asterisk PBX."""
    ctx.obj = CliContext(config_file=config_file)


for group in (pbx.pbx, database.db, calls.calls_command, calls.call, prompts.prompts, run.run, run.up,
              data.data, incidents.incident, flows.flows, agents.agent, supervise.status, messages.messages,
              recordings.recordings, callbacks.callbacks, forecast.forecast_command,
              wallboard.wallboard, report.report, overflow.overflow, service.service):
    cli.add_command(group)


def main() -> None:
    cli(prog_name="hotline")


if __name__ == "__main__":
    main()
