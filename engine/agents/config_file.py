"""The ``pjsip-agents.conf`` file in an instance's config folder: its name, and safe writes of it.

pjsip.conf ends with ``#include "pjsip-agents.conf"``; Asterisk refuses the whole pjsip.conf when an
included file is missing, so engine.pbx.control writes an empty one (`ensure_agents_file`) before any
start or reload, and engine.agents.provision replaces it with the agents' sections. No imports from
engine.pbx here: control.py imports this module.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

AGENTS_FILE: Final = "pjsip-agents.conf"
HEADER: Final = ("; Agents' SIP accounts, written by `hotline agent ...` (engine/agents/provision.py): do not edit.\n"
                 "; Each agent's softphone registers as agent-<work number> with the password it was given once.\n")


def write_private_file(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, mode 0600 (the file holds credentials)."""
    tmp = path.with_suffix(path.suffix + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def ensure_agents_file(config_dir: Path) -> Path:
    """Create an agent-less ``pjsip-agents.conf`` in `config_dir` unless one is there; never overwrite."""
    path = config_dir / AGENTS_FILE
    if not path.exists():
        write_private_file(path, HEADER)
    return path
