"""Pure statistics and formatting for the benchmark: step results in, summary, Markdown and JSON out.

Each step carries the verdict of the sustained criterion (``bench.criterion``); the summary gives per path
the highest sustained rate (the bisected knee when ``run`` bisected, see ``bench.search``) next to the
older, weaker figure, the highest rate with 0 failed calls. No I/O here (``run`` writes the files), so the
numbers and the table are unit-tested (``tests/unit/test_bench_report.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bench.criterion import DEFAULT_THRESHOLDS, Condition, Observation, Thresholds, Verdict, judge

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


Phase = Literal["climb", "bisect"]


@dataclass(frozen=True)
class StepResult:
    """One (path, rate) load step. ``failed`` counts every planned call that did not complete
    successfully, including calls SIPp never placed or had not finished when it was stopped.
    ``retransmissions`` are SIPp's own resends, ``answer_resends`` the PBX's resent 200 OKs;
    ``sipp_peak_calls`` SIPp's highest count of calls in progress (stands in for ``peak_channels`` in the
    verdict when the PBX could not be asked). ``phase``: measured while climbing or as a bisection probe."""

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
    verdict: Verdict
    controller_rss_kib: int | None = None
    controller_peak_rss_kib: int | None = None
    failure_causes: dict[str, int] = field(default_factory=dict)
    answer_resends: int = 0
    sipp_peak_calls: int | None = None
    call_seconds: float | None = None
    key_prompt_p95_ms: float | None = None
    phase: Phase = "climb"

    @property
    def clean(self) -> bool:
        """0 failed calls: the old, weaker criterion (SIPp reports no failure while the PBX collapses)."""
        return self.failed == 0 and self.successful == self.planned

    @property
    def sustained(self) -> bool:
        return self.verdict.sustained


def step_result(path: str, rate: int, seconds: int, planned: int, attempted: int, successful: int,
                answer_ms: Sequence[float], *, peak_channels: int | None = None, remote_hangups: int = 0,
                retransmissions: int = 0, sipp_exit: int = 0, controller_rss_kib: int | None = None,
                controller_peak_rss_kib: int | None = None,
                failure_causes: dict[str, int] | None = None, answer_resends: int = 0,
                sipp_peak_calls: int | None = None, call_seconds: float | None = None,
                key_prompt_ms: Sequence[float] = (), phase: Phase = "climb",
                thresholds: Thresholds = DEFAULT_THRESHOLDS) -> StepResult:
    """The step's statistics and its verdict. ``call_seconds`` (the hold) sets the expected channel
    count; without it the channel condition is not applied, as the key->prompt one without key times."""
    failed = max(0, planned - successful)
    p95 = percentile(answer_ms, 95)
    key_p95 = percentile(key_prompt_ms, 95)
    verdict = judge(Observation(rate=rate, planned=planned, successful=successful, failed=failed,
                                retransmissions=retransmissions + answer_resends, answer_p95_ms=p95,
                                peak_channels=peak_channels if peak_channels is not None else sipp_peak_calls,
                                call_seconds=call_seconds, key_prompt_p95_ms=key_p95), thresholds)
    return StepResult(path=path, rate=rate, seconds=seconds, planned=planned, attempted=attempted,
                      successful=successful, failed=failed,
                      p50_ms=percentile(answer_ms, 50), p95_ms=p95,
                      max_ms=max(answer_ms) if answer_ms else None, peak_channels=peak_channels,
                      remote_hangups=remote_hangups, retransmissions=retransmissions, sipp_exit=sipp_exit,
                      verdict=verdict, controller_rss_kib=controller_rss_kib,
                      controller_peak_rss_kib=controller_peak_rss_kib, failure_causes=dict(failure_causes or {}),
                      answer_resends=answer_resends, sipp_peak_calls=sipp_peak_calls, call_seconds=call_seconds,
                      key_prompt_p95_ms=key_p95, phase=phase)


@dataclass(frozen=True)
class PathSummary:
    """Per path: the highest sustained rate (the knee), its p95, the first rate above it that was not
    sustained, and whether the knee is only a lower bound (the highest rate tried was sustained). Then
    the same for the old criterion, the highest rate with no failed call (``max_clean_rate``)."""

    path: str
    max_clean_rate: int | None
    p95_ms: float | None
    lower_bound: bool
    max_sustained_rate: int | None = None
    sustained_p95_ms: float | None = None
    first_failing_rate: int | None = None
    sustained_lower_bound: bool = False


@dataclass(frozen=True)
class Summary:
    paths: dict[str, PathSummary]
    rate_ratio: float | None
    p95_ratio: float | None
    common_rate: int | None
    p95_ratio_at_common_rate: float | None
    sustained_rate_ratio: float | None = None


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _highest_below_first_failure(steps: Sequence[StepResult],
                                 passed: Callable[[StepResult], bool]) -> tuple[StepResult | None, int | None]:
    """The highest step that passed with every lower step passing too, and the first rate that failed."""
    best: StepResult | None = None
    for step in sorted(steps, key=lambda s: s.rate):
        if not passed(step):
            return best, step.rate
        best = step
    return best, None


def summarize_path(path: str, steps: Sequence[StepResult], highest_rate_tried: int) -> PathSummary:
    """Steps must be of one path. A rate counts only if every lower rate of the path passed too."""
    clean, _ = _highest_below_first_failure(steps, lambda s: s.clean)
    knee, first_failing = _highest_below_first_failure(steps, lambda s: s.sustained)
    highest = max([highest_rate_tried, *(s.rate for s in steps)])
    return PathSummary(path, None if clean is None else clean.rate, None if clean is None else clean.p95_ms,
                       lower_bound=clean is not None and clean.rate >= highest,
                       max_sustained_rate=None if knee is None else knee.rate,
                       sustained_p95_ms=None if knee is None else knee.p95_ms, first_failing_rate=first_failing,
                       sustained_lower_bound=knee is not None and knee.rate >= highest)


def summarize(steps: Sequence[StepResult], highest_rate_tried: int) -> Summary:
    paths = {p: summarize_path(p, [s for s in steps if s.path == p], highest_rate_tried) for p in PATHS}
    hotline, baseline = paths["hotline"], paths["baseline"]
    rate_ratio = _ratio(hotline.max_clean_rate, baseline.max_clean_rate)
    p95_ratio = _ratio(hotline.p95_ms, baseline.p95_ms)
    # The p95s above may come from different rates; the same rate for both is the fairer latency cost.
    common = min(hotline.max_clean_rate or 0, baseline.max_clean_rate or 0) or None
    at_common = {s.path: s.p95_ms for s in steps if s.rate == common}
    return Summary(paths=paths, rate_ratio=rate_ratio, p95_ratio=p95_ratio, common_rate=common,
                   p95_ratio_at_common_rate=_ratio(at_common.get("hotline"), at_common.get("baseline")),
                   sustained_rate_ratio=_ratio(hotline.max_sustained_rate, baseline.max_sustained_rate))


def _number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _rate(rate: int | None, lower_bound: bool) -> str:
    if rate is None:
        return "none"
    return f"≥ {rate}" if lower_bound else str(rate)


def _criterion_line(params: dict[str, Any]) -> list[str]:
    limits = params.get("criterion")
    if not isinstance(limits, dict):
        return []
    return ["", f"Sustained = every call completed, no SIP retransmission (SIPp's or the PBX's), p95 INVITE→200 "
                f"≤ {limits['answer_p95_ms']:g} ms, p95 key→next prompt ≤ {limits['key_prompt_p95_ms']:g} ms "
                "(n/a: these paths send no keys), peak channels ≤ rate × hold × "
                f"{limits['channel_tolerance']:g} + {limits['channel_slack']}."]


def _search_line(params: dict[str, Any]) -> list[str]:
    search = params.get("search")
    if not isinstance(search, dict):
        return []
    line = (f"Each path climbs the rates until one is not sustained, then bisects between the last sustained "
            f"and the first failing rate (probes per path: at most {search['max_probes']}, down to "
            f"{search['min_step']} calls/s).")
    if params["seconds"] < 60:
        line += (f" Steps of {params['seconds']} s make this a short run: figures to quote need steps of at "
                 "least 60 s (`make bench FULL=1`).")
    return ["", line]


def _verdict_cell(step: StepResult) -> str:
    return "sustained" if step.sustained else ", ".join(step.verdict.failed)


def _why_not_sustained(step: StepResult) -> str:
    parts: list[str] = []
    if not step.clean:
        causes = ", ".join(f"{count} {cause}" for cause, count in sorted(step.failure_causes.items()))
        placed = "" if step.attempted == step.planned else f", only {step.attempted} placed"
        parts.append(f"{step.failed} failed ({causes or 'not completed'}; SIPp exit {step.sipp_exit}{placed})")
    parts += [check.detail for check in step.verdict.checks
              if check.passed is False and check.condition is not Condition.COMPLETED]
    return f"- {step.path} at {step.rate} calls/s: " + "; ".join(parts)


def markdown(steps: Sequence[StepResult], summary: Summary, params: dict[str, Any]) -> str:
    """The report as Markdown: parameters and criterion, one row per step with its verdict, why each
    step that was not sustained failed, then the summary and the ratios."""
    lines = [
        "# Hotline benchmark",
        "",
        f"{params['cpus']} CPU cores, SIPp on the same machine; calls to 127.0.0.1 for {params['seconds']} s "
        f"per rate, {params['hold']:g} s hold, then the caller hangs up. `hotline` = {params['number']} "
        f"through the controller (Stasis), `baseline` = 7{params['number']} pure dialplan. INVITE→200 from "
        "SIPp's message log (µs time stamps).",
        *_criterion_line(params),
        *_search_line(params),
        "",
        "| path | rate (calls/s) | planned | attempted | ok | failed | INVITE→200 p50 ms | p95 ms | max ms "
        "| peak channels | controller RSS MiB (peak) | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in sorted(steps, key=lambda s: (PATHS.index(s.path) if s.path in PATHS else 99, s.rate)):
        rss = "–"
        if s.controller_rss_kib is not None:
            rss = f"{s.controller_rss_kib / 1024:.0f} ({_number(_mib(s.controller_peak_rss_kib))})"
        rate = f"{s.rate} (bisect)" if s.phase == "bisect" else str(s.rate)
        lines.append(f"| {s.path} | {rate} | {s.planned} | {s.attempted} | {s.successful} | {s.failed} "
                     f"| {_number(s.p50_ms, 1)} | {_number(s.p95_ms, 1)} | {_number(s.max_ms, 1)} "
                     f"| {_number(s.peak_channels)} | {rss} | {_verdict_cell(s)} |")
    not_sustained = [s for s in steps if not s.sustained]
    if not_sustained:
        lines += ["", "Not sustained, and why:", ""]
    lines += [_why_not_sustained(s) for s in not_sustained]
    lines += ["", "| path | highest sustained rate | p95 INVITE→200 at that rate (ms) | first rate not sustained "
              "| highest rate with 0 failed calls |",
              "|---|---:|---:|---:|---:|"]
    for path in PATHS:
        p = summary.paths[path]
        lines.append(f"| {path} | {_rate(p.max_sustained_rate, p.sustained_lower_bound)} "
                     f"| {_number(p.sustained_p95_ms, 1)} | {_number(p.first_failing_rate)} "
                     f"| {_rate(p.max_clean_rate, p.lower_bound)} |")
    lines += ["",
              f"- hotline / baseline, highest sustained rate: {_number(summary.sustained_rate_ratio, 2)}"
              + (" (the highest rate tried was sustained: a lower bound, not a limit)"
                 if any(p.sustained_lower_bound for p in summary.paths.values()) else ""),
              f"- hotline / baseline, highest rate with 0 failed calls: {_number(summary.rate_ratio, 2)}"
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
    return {"params": params,
            "steps": [asdict(s) | {"clean": s.clean, "sustained": s.sustained, "not_sustained_because":
                                   [str(c) for c in s.verdict.failed]} for s in steps],
            "summary": asdict(summary)}
