"""`hotline prompts ...`: render the prompt sound files."""

from __future__ import annotations

import click

from engine.cli.context import CliContext, pass_cli
from engine.ivr.library import load_checked
from engine.ivr.prompts import flow_prompts
from engine.pbx.install import require_installed
from engine.pbx.layout import PbxLayout
from engine.prompts.build import build_prompts
from engine.prompts.catalog import PROMPTS, Prompt
from engine.settings import Settings


def all_prompts(settings: Settings) -> tuple[Prompt, ...]:
    """The catalog plus every prompt text of the flows in the configured folder."""
    return PROMPTS + flow_prompts(load_checked(settings.flows_folder).values())


@click.group()
def prompts() -> None:
    """Prompts callers hear."""


@prompts.command("build")
@pass_cli
def prompts_build(obj: CliContext) -> None:
    """Render missing prompts with espeak-ng (a recorded file dropped in takes precedence)."""
    layout = PbxLayout.from_settings(obj.settings)
    require_installed(layout.root)
    written = build_prompts(layout.prompt_dir, all_prompts(obj.settings))
    click.echo(f"{len(written)} prompt file(s) rendered")
