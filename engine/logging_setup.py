"""Logging for the controller: one line per call step, with the call id from a ContextVar.

Lines go to stdout (the operator's terminal, or the journal under systemd) and, given a folder, to
``hotline.log`` there, rotated by size (10 MB, 5 old files kept: at most 60 MB), so a controller that runs
for months never fills the disk. The files are 0600: they hold masked numbers, but call ids and events.
"""

from __future__ import annotations

import contextvars
import logging
import os
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

LOG_FILE = "hotline.log"
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5

current_call: contextvars.ContextVar[str] = contextvars.ContextVar("current_call", default="-")


class _CallIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = current_call.get()
        return True


class _PrivateRotatingFileHandler(RotatingFileHandler):
    """Every file it opens (the first and each one after a rollover) is born 0600, whatever the umask.

    It rolls over once the bytes it wrote reach ``maxBytes`` (a file ends at most one line over): the
    standard check formats every line a second time and stats the file, per line, on the controller's
    event loop.
    """

    _written = 0

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._written = os.fstat(fd).st_size
        return os.fdopen(fd, self.mode, encoding=self.encoding, errors=self.errors)

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        return 0 < self.maxBytes <= self._written

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        self._written += len(line.encode("utf-8", "replace")) + 1
        return line


def configure(verbose: bool = False, log_dir: Path | None = None) -> None:
    formatter = logging.Formatter("%(asctime)s %(levelname)-7s [%(call_id)s] %(name)s: %(message)s",
                                  datefmt="%H:%M:%S")
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_dir.chmod(0o700)
        path = log_dir / LOG_FILE
        rotating = _PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        rotating.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s [%(call_id)s] %(name)s: %(message)s"))
        handlers.append(rotating)
    for handler in handlers:
        handler.addFilter(_CallIdFilter())
        if handler.formatter is None:
            handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("aiohttp", "panoramisk", "alembic", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
