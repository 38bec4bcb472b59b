"""`hotline prompts ...`: render the prompt sound files."""

from __future__ import annotations

import click

from engine.cli.context import CliContext, pass_cli
from engine.pbx.install import require_installed
from engine.pbx.layout import PbxLayout
from engine.prompts.build import build_prompts


@click.group()
def prompts() -> None:
    """Prompts callers hear."""


@prompts.command("build")
@pass_cli
def prompts_build(obj: CliContext) -> None:
    """Render missing prompts with espeak-ng (a recorded file dropped in takes precedence)."""
    layout = PbxLayout.from_settings(obj.settings)
    require_installed(layout.root)
    written = build_prompts(layout.prompt_dir)
    click.echo(f"{len(written)} prompt file(s) rendered")
