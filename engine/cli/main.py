"""Entry point of the `hotline` console script.

Exit codes: 0 ok, 1 domain error, 2 usage or bad setting, 3 PBX or database unreachable. Expected
errors print one line (``error: ...``) and never a traceback.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from engine.cli.context import CliContext
from engine.errors import HotlineError

# Command name -> (module in engine.cli, attribute). A command's module is imported only when it runs (or for
# --help): `hotline report` need not load the ARI client, the IVR runner and aiohttp (seconds on a busy box).
COMMANDS: dict[str, tuple[str, str]] = {
    "pbx": ("pbx", "pbx"), "db": ("database", "db"), "calls": ("calls", "calls_command"), "call": ("calls", "call"),
    "prompts": ("prompts", "prompts"), "run": ("run", "run"), "up": ("run", "up"), "data": ("data", "data"),
    "incident": ("incidents", "incident"), "flows": ("flows", "flows"), "agent": ("agents", "agent"),
    "status": ("supervise", "status"), "messages": ("messages", "messages"), "recordings": ("recordings", "recordings"),
    "callbacks": ("callbacks", "callbacks"), "forecast": ("forecast", "forecast_command"),
    "wallboard": ("wallboard", "wallboard"), "report": ("report", "report"), "overflow": ("overflow", "overflow"),
    "service": ("service", "service"),
}

# Groups whose subcommands other modules add at import (supervisors' `agent pause|resume|end-acw` and
# `call transfer|silent` live in engine.cli.supervise).
EXTENDED_BY: dict[str, tuple[str, ...]] = {"agent": ("supervise",), "call": ("supervise",)}


class HotlineGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS and cmd_name not in self.commands:
            module, attribute = COMMANDS[cmd_name]
            command = getattr(importlib.import_module(f"engine.cli.{module}"), attribute)
            for extension in EXTENDED_BY.get(cmd_name, ()):
                importlib.import_module(f"engine.cli.{extension}")  # adds its subcommands to the group
            if not isinstance(command, click.Command):
                raise TypeError(f"engine.cli.{module}.{attribute} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)

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



def main() -> None:
    cli(prog_name="hotline")


if __name__ == "__main__":
    main()
