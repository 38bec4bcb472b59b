"""Where each live caller is, kept in a file of the data folder so that a controller started after a crash
finds them (STYLE rule 17; ``engine.call_position`` says what a position holds).

Why a file and not the caller's channel variable, where positions were kept before: the variable cost an ARI
request per change (six per journey call, a quarter of all the requests a call made, bench/results of
2026-11-29), and a step waited for that round trip before it began, so the prompt after a key waited for it.
A write to a file opened ``O_APPEND`` is one system call; the kernel keeps it when the process is killed, as
it keeps the journal's write-ahead file. A power cut loses it, and the calls with it.

The file has a line per change, ``<uid> TAB <position JSON>``, and ``<uid> TAB -`` once the call is over; a
uid's latest line wins. A line cut short by a crash is skipped. Once ``COMPACT_AFTER`` lines have been
appended, the file is rewritten with only the live calls' latest lines (a temporary file renamed over it), so
it stays as big as the calls in progress. A controller reads it at start, compacting it the same way.
Collaborators: engine.calls (reads it on re-adoption), engine.call_session (writes it), engine.app (its
place: ``<data_dir>/call-positions``).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Final

from engine.call_position import CallPosition

log = logging.getLogger(__name__)

COMPACT_AFTER: Final = 5_000
_ENDED: Final = "-"


def latest_positions(lines: Iterable[str]) -> dict[str, str]:
    """uid -> the position text of its latest line, for the uids whose latest line is not the end mark."""
    live: dict[str, str] = {}
    for line in lines:
        uid, tab, text = line.rstrip("\n").partition("\t")
        if not tab or not uid or not text:
            continue  # cut short by a crash, or not ours
        if text == _ENDED:
            live.pop(uid, None)
        else:
            live[uid] = text
    return live


class PositionBook:
    """The live callers' latest positions, in memory and (with a ``path``) in the file described above.

    Without a path nothing outlives the process (unit tests of call logic). Event loop's thread only.
    """

    def __init__(self, path: Path | None, compact_after: int = COMPACT_AFTER) -> None:
        self._path = path
        self._compact_after = compact_after
        self._live: dict[str, str] = {}
        self._appended = 0
        self._fd: int | None = None
        self._failing = False
        if path is not None:
            with contextlib.suppress(FileNotFoundError), path.open(encoding="utf-8", errors="replace") as lines:
                self._live = latest_positions(lines)
            self._rewrite()

    def __len__(self) -> int:
        return len(self._live)

    def read(self, uid: str) -> str | None:
        """The position last written for ``uid`` (by this process or the one before), as text."""
        return self._live.get(uid)

    def write(self, uid: str, position: CallPosition) -> None:
        text = position.to_text()
        self._live[uid] = text
        self._append(f"{uid}\t{text}\n")

    def forget(self, uid: str) -> None:
        """The call is over (or handed to the dialplan): nothing to resume."""
        if self._live.pop(uid, None) is not None:
            self._append(f"{uid}\t{_ENDED}\n")

    def retain(self, uids: Collection[str]) -> None:
        """Forget every call not among ``uids`` (those Asterisk still has, or this process serves): callers of
        an earlier run who hung up while no controller listened."""
        for uid in [uid for uid in self._live if uid not in uids]:
            self.forget(uid)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _append(self, line: str) -> None:
        if self._path is None:
            return
        if self._appended >= self._compact_after:
            self._rewrite()
        if self._fd is None:
            return
        try:
            os.write(self._fd, line.encode("utf-8"))
        except OSError as exc:
            self._failed(exc)
            return
        self._appended += 1
        self._failing = False

    def _rewrite(self) -> None:
        """Replace the file by the live calls' latest lines and append to the new one from now on."""
        assert self._path is not None
        temporary = self._path.with_name(self._path.name + ".new")
        try:
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
            try:
                os.write(fd, "".join(f"{uid}\t{text}\n" for uid, text in self._live.items()).encode("utf-8"))
                os.replace(temporary, self._path)
            except OSError:
                os.close(fd)
                with contextlib.suppress(OSError):
                    os.unlink(temporary)  # a half-written copy (a full disk) is of no use to anyone
                raise
        except OSError as exc:
            self._failed(exc)
            # Go on appending to the file as it is: it still reads right, only bigger.
            if self._fd is None:
                with contextlib.suppress(OSError):
                    self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._appended = 0
            return
        self.close()
        self._fd = fd
        self._appended = 0

    def _failed(self, exc: OSError) -> None:
        if not self._failing:
            log.error("could not write call positions to %s (%s): callers of a controller that crashed now would "
                      "start over at the greeting", self._path, exc)
        self._failing = True
