"""The report's pictures: calls per half hour with the service level, and agents by state over the day.

Drawn with matplotlib's object API on an Agg canvas (no display, no pyplot global state) into a PNG or an
SVG. Over several days, each half hour of the day sums that half hour of every day (agents: the average
number in each state). Input: a 30-minute ``Report`` and the agents' time in it (engine.reports.kpis).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo
from pathlib import Path
from typing import Final

from matplotlib.figure import Figure

from engine.reports.kpis import Report, StateTime, Tally, agents_by_state, interval_bounds, merged, values

WIDTH_IN: Final = 12.0
HEIGHT_IN: Final = 8.0
DPI: Final = 100
"""The picture is WIDTH_IN x HEIGHT_IN inches at DPI: 1200 x 800 pixels as a PNG."""
SLOTS: Final = 48
STATE_COLOURS: Final = {"available": "#4caf50", "ringing": "#ffeb3b", "on_call": "#2196f3", "on_hold": "#9c27b0",
                        "after_call_work": "#ff9800", "paused": "#9e9e9e"}


def _slot(index: int) -> str:
    return f"{index // 2:02d}:{30 * (index % 2):02d}"


def half_hours(report: Report, tz: tzinfo) -> list[Tally]:
    """One tally per half hour of the day (00:00 .. 23:30), summed over the report's days."""
    by_slot: list[list[Tally]] = [[] for _ in range(SLOTS)]
    for start, row in zip(report.interval_starts, report.intervals, strict=True):
        local = start.astimezone(tz)
        by_slot[local.hour * 2 + local.minute // 30].append(row.tally)
    return [merged(tallies) for tallies in by_slot]


def states_by_half_hour(times: Sequence[StateTime], report: Report, tz: tzinfo) -> dict[str, list[float]]:
    """Average number of agents in each state per half hour of the day, over the report's days."""
    bounds = interval_bounds(report.start, report.end, "30m", tz)
    per_interval = agents_by_state(times, bounds)
    days: list[int] = [0] * SLOTS
    for low, _ in bounds:
        local = low.astimezone(tz)
        days[local.hour * 2 + local.minute // 30] += 1
    result: dict[str, list[float]] = {}
    for state, counts in per_interval.items():
        folded = [0.0] * SLOTS
        for (low, _), count in zip(bounds, counts, strict=True):
            local = low.astimezone(tz)
            folded[local.hour * 2 + local.minute // 30] += count
        result[state] = [total / days[i] if days[i] else 0.0 for i, total in enumerate(folded)]
    return result


def render(path: Path, report: Report, times: Sequence[StateTime], tz: tzinfo, title: str) -> None:
    """Write the two-panel chart to ``path`` (.png or .svg). Raises OSError when it cannot be written."""
    slots = half_hours(report, tz)
    figures = [values(t) for t in slots]
    x = list(range(SLOTS))
    figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    calls_axes, agents_axes = figure.subplots(2, 1, sharex=True)
    width = 0.27
    calls_axes.bar([i - width for i in x], [f["offered"] or 0 for f in figures], width, label="offered",
                   color="#90a4ae")
    calls_axes.bar(x, [f["answered"] or 0 for f in figures], width, label="answered", color="#2196f3")
    calls_axes.bar([i + width for i in x], [f["abandoned"] or 0 for f in figures], width, label="abandoned",
                   color="#f44336")
    calls_axes.set_ylabel("calls per half hour")
    calls_axes.set_title(title)
    level_axes = calls_axes.twinx()
    level = [f["service_level"] for f in figures]
    level_axes.plot([i for i, v in zip(x, level, strict=True) if v is not None],
                    [v for v in level if v is not None], color="#000000", marker="o", markersize=3,
                    label=f"service level ({report.options.service_level_s:g} s)")
    level_axes.set_ylim(0, 105)
    level_axes.set_ylabel("service level %")
    handles, labels = calls_axes.get_legend_handles_labels()
    more_handles, more_labels = level_axes.get_legend_handles_labels()
    calls_axes.legend(handles + more_handles, labels + more_labels, loc="upper left", fontsize="small")

    states = states_by_half_hour(times, report, tz)
    ordered = [s for s in STATE_COLOURS if s in states] + sorted(set(states) - set(STATE_COLOURS))
    if ordered:
        agents_axes.stackplot(x, *[states[s] for s in ordered], labels=ordered,
                              colors=[STATE_COLOURS.get(s, "#795548") for s in ordered], step="post")
        agents_axes.legend(loc="upper left", fontsize="small")
    else:
        agents_axes.text(0.5, 0.5, "no agent activity", ha="center", va="center", transform=agents_axes.transAxes)
    agents_axes.set_ylabel("agents (average)")
    agents_axes.set_xticks(x[::4], [_slot(i) for i in x[::4]])
    agents_axes.set_xlim(-0.5, SLOTS - 0.5)
    agents_axes.set_xlabel("time of day")
    figure.tight_layout()
    figure.savefig(path, format=path.suffix.lstrip(".").lower())
