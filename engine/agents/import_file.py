"""The agents file `hotline agent import` reads: CSV with a header, one agent a line, checked as a whole.

Columns (UTF-8, header row required, any order)::

    work_number  required  3-8 digits (工号)
    name         required  for supervisors only
    skills       optional  skill names separated by ';' or spaces (or ',' inside quotes): "general;billing"
    tier         optional  inbound (default), expert, outbound, qc, backoffice, or any tier name

Every row is checked before the database is touched (engine.agents.store.check_*); all problems are
reported together, each as ``file:line: message``, and nothing is imported unless the whole file is
good. engine.agents.store.import_agents then writes the rows in one transaction.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from engine.agents.errors import BadAgent, BadAgentFile
from engine.agents.store import AgentSpec, check_name, check_skills, check_tier, check_work_number
from engine.store.agent_tables import DEFAULT_TIER

COLUMNS: Final = ("work_number", "name", "skills", "tier")
REQUIRED: Final = ("work_number", "name")
_SKILL_SEPARATORS = re.compile(r"[;,\s|]+")


@dataclass(frozen=True)
class AgentRow(AgentSpec):
    """One checked line of the file."""

    line: int = 0


def read_agents_csv(path: Path) -> list[AgentRow]:
    """The checked rows of ``path``; BadAgentFile with every problem (``file:line: message``) otherwise."""
    problems: list[str] = []
    rows: list[AgentRow] = []
    first_line: dict[str, int] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            reader = csv.DictReader(stream)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            unknown = [name for name in header if name not in COLUMNS]
            missing = [name for name in REQUIRED if name not in header]
            if unknown or missing:
                what = (f"unknown column {unknown[0]!r}" if unknown else f"missing column {missing[0]!r}")
                raise BadAgentFile([f"{path}:1: {what} (columns: {', '.join(COLUMNS)}; a header row is required)"])
            reader.fieldnames = header
            for row in reader:
                line = reader.line_num
                if None in row:
                    problems.append(f"{path}:{line}: more values than columns")
                    continue
                cells = {name: (value or "").strip() for name, value in row.items()}
                if not any(cells.values()) or cells["work_number"].startswith("#"):
                    continue  # blank lines of spreadsheets, comments
                try:
                    parsed = AgentRow(check_work_number(cells["work_number"]), check_name(cells["name"]),
                                      check_skills(_SKILL_SEPARATORS.split(cells.get("skills", ""))),
                                      check_tier(cells.get("tier") or DEFAULT_TIER), line=line)
                except BadAgent as err:
                    problems.append(f"{path}:{line}: {err.message}")
                    continue
                if parsed.work_number in first_line:
                    problems.append(f"{path}:{line}: work number {parsed.work_number} is already on line "
                                    f"{first_line[parsed.work_number]}")
                    continue
                first_line[parsed.work_number] = line
                rows.append(parsed)
    except UnicodeDecodeError:
        raise BadAgentFile([f"{path}:1: not UTF-8 text (save the CSV as UTF-8)"]) from None
    except OSError as exc:
        raise BadAgentFile([f"{path}:1: cannot read: {exc.strerror}"]) from None
    except csv.Error as exc:
        raise BadAgentFile([f"{path}:1: not a valid CSV file: {exc}"]) from None
    if problems:
        raise BadAgentFile(problems)
    if not rows:
        raise BadAgentFile([f"{path}:1: no agents in the file"])
    return rows
