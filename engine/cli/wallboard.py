"""`hotline wallboard`: a full-screen live board for the floor, drawn with rich.

Per queue: callers waiting and the longest wait (the controller's live status, engine.queueing.desk),
service level and abandon rate today (engine.reports.today, from the journal every few seconds), agents
serving, and the overflow stage when the live status carries one. Below: agents by state, each with the
time in that state. ``build_board`` is a pure function of those inputs and the screen size; the command
redraws it every second in the terminal's alternate screen (rich.live, no flicker), or prints one frame
with ``--once``. It fits 80x24 and uses the extra room of a larger screen for more agents.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console, Group, JustifyMethod, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from sqlalchemy.exc import SQLAlchemyError

from acd.queues import load_queues
from engine.app import LIVE_STATUS_FILE
from engine.cli.context import CliContext, open_journal, pass_cli
from engine.queueing.desk import read_snapshot
from engine.reports.disposition import SHORT_ABANDON_S
from engine.reports.today import DEFAULT_TARGET_S, QueueToday, load_today

REFRESH_S = 1.0
JOURNAL_EVERY_S = 5.0
DEFAULT_SIZE = (80, 24)
AGENT_CELL_WIDTH = 25
SL_GOAL = 0.8  # the manual's 80 % within the queue's target (shared/HOTLINE_RULES.md, "Targets")
ABANDON_LIMIT = 0.05  # the manual's abandonment band is 3-5 %

STATE_LABELS = {"available": "available", "ringing": "ringing", "on_call": "on call", "on_hold": "on hold",
                "after_call_work": "wrap-up", "paused": "paused", "logged_out": "signed out"}
SUMMARY_LABELS = {**STATE_LABELS, "on_hold": "hold", "logged_out": "out"}
STATE_STYLES = {"available": "green", "ringing": "bold yellow", "on_call": "cyan", "on_hold": "magenta",
                "after_call_work": "blue", "paused": "yellow", "logged_out": "dim"}
# Agents at work first, signed-out ones last (they are the first to fall off a small screen).
STATE_ORDER = ("ringing", "on_call", "on_hold", "after_call_work", "available", "paused", "logged_out")


@dataclass(frozen=True)
class BoardInput:
    now: datetime
    snapshot: Mapping[str, Any] | None
    today: Mapping[str, QueueToday]
    targets_s: Mapping[str, float]
    journal_problem: str | None = None


def duration(seconds: float) -> str:
    """m:ss below an hour, h:mm:ss above."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def overflow_stage(queue: Mapping[str, Any]) -> str:
    """The queue's overflow stage from the live status ("-" when the controller does not report one)."""
    value = queue.get("overflow")
    if isinstance(value, Mapping):
        value = value.get("stage", value.get("name"))
    if value is None or value == "" or value is False:
        return "-"
    return str(value)


def _in_state_s(agent: Mapping[str, Any], now: datetime) -> float:
    since = agent.get("since")
    if isinstance(since, str):
        try:
            return (now - datetime.fromisoformat(since)).total_seconds()
        except (TypeError, ValueError):
            pass
    return float(agent.get("in_state_s") or 0.0)


def _queue_table(board: BoardInput) -> Table:
    table = Table(expand=True, box=None, padding=(0, 0, 0, 1), show_edge=False, header_style="bold")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("queue", "left"), ("waiting", "right"), ("longest", "right"), ("SL", "right"), ("abandon", "right"),
        ("answered", "right"), ("agents", "right"), ("overflow", "right"))
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True)
    live = {str(q["queue"]): q for q in (board.snapshot or {}).get("queues", [])}
    for name in sorted(set(live) | set(board.today) | set(board.targets_s)):
        queue = live.get(name, {})
        figures = board.today.get(name, QueueToday(queue=name))
        target = board.targets_s.get(name, DEFAULT_TARGET_S)
        waiting = int(queue.get("waiting", 0))
        longest = float(queue.get("longest_wait_s", 0.0))
        level = figures.service_level
        table.add_row(
            Text(name, overflow="ellipsis"),
            Text(str(waiting) if queue else "-", style="bold yellow" if waiting else ""),
            Text(duration(longest) if queue else "-", style="bold red" if longest > target else ""),
            Text(_percent(level), style="" if level is None else ("green" if level >= SL_GOAL else "bold red")),
            Text(_percent(figures.abandon_rate),
                 style="bold red" if (figures.abandon_rate or 0) > ABANDON_LIMIT else ""),
            f"{figures.answered}/{figures.offered}",
            str(queue.get("agents_serving", "-")),
            overflow_stage(queue),
        )
    return table


def _state_counts(agents: Sequence[Mapping[str, Any]]) -> Text:
    text = Text()
    for state in STATE_ORDER:
        count = sum(1 for a in agents if a.get("state") == state)
        if count or state in ("available", "on_call"):
            if text:
                text.append("  ")
            text.append(f"{SUMMARY_LABELS[state]} {count}", style=STATE_STYLES[state])
    return text


def _agents_grid(agents: Sequence[Mapping[str, Any]], now: datetime, width: int, rows: int) -> Table:
    columns = max(1, width // AGENT_CELL_WIDTH)
    order = {state: i for i, state in enumerate(STATE_ORDER)}
    ordered = sorted(agents, key=lambda a: (order.get(str(a.get("state")), len(order)), -_in_state_s(a, now),
                                            str(a.get("agent"))))
    room = max(1, rows) * columns
    shown: list[Text] = []
    for agent in ordered[:room if len(ordered) <= room else room - 1]:
        state = str(agent.get("state"))
        cell = Text(no_wrap=True, overflow="ellipsis")
        cell.append(f"{str(agent.get('agent')):<6}", style="bold")
        cell.append(f"{STATE_LABELS.get(state, state):<10}", style=STATE_STYLES.get(state, ""))
        cell.append(f"{duration(_in_state_s(agent, now)):>7}")
        if not agent.get("registered", True) and state != "logged_out":
            cell.stylize("strike")
        shown.append(cell)
    if len(ordered) > room:
        shown.append(Text(f"+{len(ordered) - room + 1} more", style="dim"))
    grid = Table.grid(expand=True, padding=(0, 1))
    for _ in range(columns):
        grid.add_column(ratio=1, no_wrap=True)
    per_column = max(1, math.ceil(len(shown) / columns))
    for r in range(per_column):
        grid.add_row(*[shown[c * per_column + r] if c * per_column + r < len(shown) else Text("")
                       for c in range(columns)])
    return grid


def build_board(board: BoardInput, width: int, height: int, local_now: datetime) -> RenderableType:
    """One frame for a ``width`` x ``height`` screen."""
    header = Text(no_wrap=True, overflow="ellipsis")
    header.append(" hotline wallboard ", style="bold reverse")
    header.append(f"  {local_now:%a %Y-%m-%d %H:%M:%S}")
    if board.snapshot is None:
        header.append("  controller not running: no live status", style="bold red")
    if board.journal_problem:
        header.append(f"  {board.journal_problem}", style="bold red")
    queues = _queue_table(board)
    queue_rows = max(1, queues.row_count)
    queue_panel = Panel(queues, title="queues today", title_align="left", padding=(0, 1))
    agents = list((board.snapshot or {}).get("agents", []))
    counts = _state_counts(agents)
    footer = Text(f" SL = answered within target / offered; short abandons (<= {SHORT_ABANDON_S:.0f} s) left out",
                  style="dim", no_wrap=True, overflow="ellipsis")
    # header 1 + queue panel (2 borders + header + rows) + agent panel borders 2 + footer 1
    agent_rows = height - 1 - (queue_rows + 3) - 2 - 1
    agents_panel = Panel(_agents_grid(agents, board.now, width - 4, agent_rows), title=counts,
                         title_align="left", padding=(0, 1))
    return Group(header, queue_panel, agents_panel, footer)


def _targets(obj: CliContext) -> dict[str, float]:
    return {str(name): config.service_level_s for name, config in load_queues(obj.settings.queues_path).items()}


@click.command("wallboard")
@click.option("--once", is_flag=True,
              help="Print one 80x24 frame to stdout and exit (also when stdout is not a terminal).")
@pass_cli
def wallboard(obj: CliContext, once: bool) -> None:
    """Full-screen live board: per queue callers waiting, longest wait, service level and abandon rate today,
    agents serving and overflow stage; agents by state with time in state. Ctrl-C leaves."""
    settings = obj.settings
    targets = _targets(obj)
    status_file = settings.data_dir / LIVE_STATUS_FILE
    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:
        once = True  # a pipe or a file gets one frame, not a stream of screen redraws
    if once:
        console = Console(file=sys.stdout, highlight=False, width=DEFAULT_SIZE[0], height=DEFAULT_SIZE[1])
    with open_journal(settings) as db:
        today: Mapping[str, QueueToday] = {}
        problem: str | None = None
        read_at = -math.inf

        def frame() -> RenderableType:
            nonlocal today, problem, read_at
            now = datetime.now(UTC)
            if time.monotonic() - read_at >= JOURNAL_EVERY_S:
                read_at = time.monotonic()
                try:
                    today, problem = load_today(db, now, settings.tz, targets), None
                except SQLAlchemyError as exc:
                    problem = f"journal unreachable: {str(exc).splitlines()[0][:60]}"
            board = BoardInput(now=now, snapshot=read_snapshot(status_file), today=today, targets_s=targets,
                               journal_problem=problem)
            width, height = console.size
            return build_board(board, width, height, now.astimezone(settings.tz))

        if once:
            console.print(frame())
            return
        try:
            with Live(frame(), console=console, screen=True, auto_refresh=False) as live:
                while True:
                    time.sleep(REFRESH_S)
                    live.update(frame(), refresh=True)
        except KeyboardInterrupt:
            pass
