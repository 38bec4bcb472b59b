"""The typed context object every command receives, and shared output helpers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import sqlalchemy

from engine.settings import Settings, load_settings
from engine.store.database import check_database, make_engine


@dataclass
class CliContext:
    config_file: Path | None = None
    _settings: Settings | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        # Loaded on first use so `--help` works even with a broken settings file.
        if self._settings is None:
            self._settings = load_settings(self.config_file)
        return self._settings


pass_cli = click.make_pass_decorator(CliContext)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextmanager
def open_journal(settings: Settings) -> Iterator[sqlalchemy.Engine]:
    """The journal database, checked first so an outage is one clear error line."""
    engine = make_engine(settings.db_url)
    try:
        check_database(settings.db_url, engine)
        yield engine
    finally:
        engine.dispose()
