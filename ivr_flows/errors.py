"""Problems found in a flow file, each pointing at ``file:line``, and the error that carries them.

``FlowError`` is a ``SettingsError``: a broken flow file is a configuration mistake, so the CLI prints one
line and exits 2. It always carries every problem found, not just the first, so an operator fixes a file
in one round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import SettingsError


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class FlowError(SettingsError):
    """A flow file cannot be used; ``problems`` lists everything wrong with it."""

    code = "bad-flow"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems) or "bad flow")
