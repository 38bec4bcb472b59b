"""One WARNING when a self-service source starts failing, one INFO when it answers again.

A back end that is down fails every caller's look-up; logging each would bury the one line a person needs.
"""

from __future__ import annotations

import logging


class OutageLog:
    def __init__(self, logger: logging.Logger, source: str) -> None:
        self._logger = logger
        self._source = source
        self.down = False

    def failed(self, what: str, reason: str) -> None:
        """``what`` must already have caller numbers masked."""
        if not self.down:
            self.down = True
            self._logger.warning("%s unavailable (%s: %s); callers hear the fallback", self._source, what, reason)

    def answered(self) -> None:
        if self.down:
            self.down = False
            self._logger.info("%s is answering again", self._source)
