"""Every command group lists all its subcommands although command modules load lazily."""

from __future__ import annotations

from click.testing import CliRunner

from engine.cli.main import cli


def test_groups_extended_by_other_modules_list_every_subcommand() -> None:
    runner = CliRunner()
    agent = runner.invoke(cli, ["agent", "--help"]).output
    for name in ("add", "login", "logout", "pause", "resume", "end-acw", "import", "set"):
        assert f"  {name} " in agent, (name, agent)
    call = runner.invoke(cli, ["call", "--help"]).output
    for name in ("show", "transfer", "silent"):
        assert f"  {name} " in call, (name, call)
