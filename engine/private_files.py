"""Keep what the hotline writes private to its user: caller numbers, voices and credentials.

`restrict_process` sets the umask to 077, so every file the controller creates (journal, spill file, live
status, offsets, logs) is 0600 from its first byte; Asterisk gets the same umask when we start it
(engine.pbx.control). `lock_down` repairs a data folder made before: the folder 0700, and no group or
other bits on anything in it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def restrict_process() -> None:
    os.umask(0o077)


def lock_down(folder: Path) -> None:
    if not folder.is_dir():
        return
    folder.chmod(0o700)
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            path = Path(root) / name
            mode = path.lstat().st_mode
            if not stat.S_ISLNK(mode) and mode & 0o077:
                path.chmod(stat.S_IMODE(mode) & 0o700)
