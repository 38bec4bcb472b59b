"""Console logging for the controller: one line per call step, with the call id from a ContextVar."""

from __future__ import annotations

import contextvars
import logging

current_call: contextvars.ContextVar[str] = contextvars.ContextVar("current_call", default="-")


class _CallIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = current_call.get()
        return True


def configure(verbose: bool = False) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(_CallIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s [%(call_id)s] %(name)s: %(message)s",
                                           datefmt="%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("aiohttp", "panoramisk", "alembic", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
