"""Pure statistics and formatting for the benchmark: step results in, summary, Markdown and JSON out.

No I/O here (``run`` writes the files), so the numbers and the table are unit-tested
(``tests/unit/test_bench_report.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

PATHS = ("hotline", "baseline")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) with linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class StepResult:
    """One (path, rate) load step. ``failed`` counts every planned call that did not complete
    successfully, including calls SIPp never placed or had not finished when it was stopped."""

    path: str
    rate: int
    seconds: int
    planned: int
    attempted: int
    successful: int
    failed: int
    p50_ms: float | None
    p95_ms: float | None
    max_ms: float | None
    peak_channels: int | None
    remote_hangups: int
    retransmissions: int
    sipp_exit: int
    controller_rss_kib: int | None = None
    controller_peak_rss_kib: int | None = None
    failure_causes: dict[str, int] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.failed == 0 and self.successful == self.planned


def step_result(path: str, rate: int, seconds: int, planned: int, attempted: int, successful: int,
                answer_ms: Sequence[float], *, peak_channels: int | None = None, remote_hangups: int = 0,
                retransmissions: int = 0, sipp_exit: int = 0, controller_rss_kib: int | None = None,
                controller_peak_rss_kib: int | None = None,
                failure_causes: dict[str, int] | None = None) -> StepResult:
    return StepResult(path=path, rate=rate, seconds=seconds, planned=planned, attempted=attempted,
                      successful=successful, failed=max(0, planned - successful),
                      p50_ms=percentile(answer_ms, 50), p95_ms=percentile(answer_ms, 95),
                      max_ms=max(answer_ms) if answer_ms else None, peak_channels=peak_channels,
                      remote_hangups=remote_hangups, retransmissions=retransmissions, sipp_exit=sipp_exit,
                      controller_rss_kib=controller_rss_kib, controller_peak_rss_kib=controller_peak_rss_kib,
                      failure_causes=dict(failure_causes or {}))


@dataclass(frozen=True)
class PathSummary:
    """The highest rate a path sustained with no failed call, and whether that is only a lower bound
    (the highest rate tried passed, so the real limit was not reached)."""

    path: str
    max_clean_rate: int | None
    p95_ms: float | None
    lower_bound: bool


@dataclass(frozen=True)
class Summary:
    paths: dict[str, PathSummary]
    rate_ratio: float | None
    p95_ratio: float | None
    common_rate: int | None
    p95_ratio_at_common_rate: float | None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def summarize_path(path: str, steps: Sequence[StepResult], highest_rate_tried: int) -> PathSummary:
    """Steps must be of one path. A rate counts only if every lower rate of the path was clean too."""
    best: StepResult | None = None
    for step in sorted(steps, key=lambda s: s.rate):
        if not step.clean:
            break
        best = step
    if best is None:
        return PathSummary(path, None, None, lower_bound=False)
    return PathSummary(path, best.rate, best.p95_ms, lower_bound=best.rate >= highest_rate_tried)


def summarize(steps: Sequence[StepResult], highest_rate_tried: int) -> Summary:
    paths = {p: summarize_path(p, [s for s in steps if s.path == p], highest_rate_tried) for p in PATHS}
    hotline, baseline = paths["hotline"], paths["baseline"]
    rate_ratio = _ratio(hotline.max_clean_rate, baseline.max_clean_rate)
    p95_ratio = _ratio(hotline.p95_ms, baseline.p95_ms)
    # The p95s above may come from different rates; the same rate for both is the fairer latency cost.
    common = min(hotline.max_clean_rate or 0, baseline.max_clean_rate or 0) or None
    at_common = {s.path: s.p95_ms for s in steps if s.rate == common}
    return Summary(paths=paths, rate_ratio=rate_ratio, p95_ratio=p95_ratio, common_rate=common,
                   p95_ratio_at_common_rate=_ratio(at_common.get("hotline"), at_common.get("baseline")))


def _number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _rate(summary: PathSummary) -> str:
    if summary.max_clean_rate is None:
        return "none"
    return f"≥ {summary.max_clean_rate}" if summary.lower_bound else str(summary.max_clean_rate)


def markdown(steps: Sequence[StepResult], summary: Summary, params: dict[str, Any]) -> str:
    """The report as Markdown: parameters, one row per step, then the summary and the ratios."""
    lines = [
        "# Hotline benchmark",
        "",
        f"{params['cpus']} CPU cores, SIPp on the same machine; calls to 127.0.0.1 for {params['seconds']} s "
        f"per rate, {params['hold']:g} s hold, then the caller hangs up. `hotline` = {params['number']} "
        f"through the controller (Stasis), `baseline` = 7{params['number']} pure dialplan. INVITE→200 from "
        "SIPp's message log (µs time stamps).",
        "",
        "| path | rate (calls/s) | planned | attempted | ok | failed | INVITE→200 p50 ms | p95 ms | max ms "
        "| peak channels | controller RSS MiB (peak) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sorted(steps, key=lambda s: (PATHS.index(s.path) if s.path in PATHS else 99, s.rate)):
        rss = "–"
        if s.controller_rss_kib is not None:
            rss = f"{s.controller_rss_kib / 1024:.0f} ({_number(_mib(s.controller_peak_rss_kib))})"
        lines.append(f"| {s.path} | {s.rate} | {s.planned} | {s.attempted} | {s.successful} | {s.failed} "
                     f"| {_number(s.p50_ms, 1)} | {_number(s.p95_ms, 1)} | {_number(s.max_ms, 1)} "
                     f"| {_number(s.peak_channels)} | {rss} |")
    failures = [s for s in steps if not s.clean]
    if failures:
        lines.append("")
    for s in failures:
        causes = ", ".join(f"{count} {cause}" for cause, count in sorted(s.failure_causes.items()))
        placed = "" if s.attempted == s.planned else f", only {s.attempted} placed"
        lines.append(f"- {s.path} at {s.rate} calls/s: {s.failed} failed ({causes or 'not completed'}; "
                     f"SIPp exit {s.sipp_exit}{placed})")
    lines += ["", "| path | highest rate with 0 failed calls | p95 INVITE→200 at that rate (ms) |",
              "|---|---:|---:|"]
    for path in PATHS:
        p = summary.paths[path]
        lines.append(f"| {path} | {_rate(p)} | {_number(p.p95_ms, 1)} |")
    lines += ["",
              f"- hotline / baseline, highest clean rate: {_number(summary.rate_ratio, 2)}"
              + (" (the highest rate tried passed: a lower bound, not a limit)"
                 if any(p.lower_bound for p in summary.paths.values()) else ""),
              f"- hotline / baseline, p95 at each path's highest clean rate: {_number(summary.p95_ratio, 2)}",
              f"- hotline / baseline, p95 at the same rate ({_number(summary.common_rate)} calls/s): "
              f"{_number(summary.p95_ratio_at_common_rate, 2)}"]
    if "load_average_before" in params:
        lines.append(f"- load average (1/5/15 min) before: {_loads(params['load_average_before'])}, "
                     f"after: {_loads(params.get('load_average_after', []))} (other work on the box skews "
                     "the numbers)")
    lines.append("")
    return "\n".join(lines)


def _loads(values: Sequence[float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values) or "–"


def _mib(kib: int | None) -> float | None:
    return None if kib is None else kib / 1024


def to_json(steps: Sequence[StepResult], summary: Summary, params: dict[str, Any]) -> dict[str, Any]:
    return {"params": params, "steps": [asdict(s) | {"clean": s.clean} for s in steps],
            "summary": asdict(summary)}
