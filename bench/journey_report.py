"""The journey benchmark's report: Markdown, JSON and a PNG chart (matplotlib, Agg) from the steps.

Pure except ``chart`` (writes the PNG). Per path the knee is the highest sustained rate below the first
rate that was not sustained (``bench.report`` rules); the headline is the controller's CPU per call and the
ratio of the knees (journey / app_queue).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.journey_step import PATH_NAMES, JourneyStep, Spread, step_json
from engine.selfservice.passwords import SCHEME as PASSWORD_SCHEME


def knee(steps: Sequence[JourneyStep], path: str) -> tuple[float | None, float | None]:
    """(highest sustained rate below the first failing one, first failing rate) of ``path``."""
    mine = sorted((s for s in steps if s.path == path), key=lambda s: s.rate)
    failing = min((s.rate for s in mine if not s.sustained), default=None)
    sustained = [s.rate for s in mine if s.sustained and (failing is None or s.rate < failing)]
    return (max(sustained) if sustained else None), failing


def _n(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _box(step: JourneyStep) -> str:
    """The box's busy share over the step in percent, with the share stolen by the hypervisor when any, and
    the share of the time in which some task waited for a CPU."""
    if step.box_busy is None:
        return "–"
    stolen = f" ({step.box_steal:.0%})" if step.box_steal else ""
    return f"{step.box_busy:.0%}{stolen} / {_n(None if step.cpu_pressure is None else step.cpu_pressure * 100)}"


def _per_step(steps: Sequence[JourneyStep], heading: str, line: Callable[[JourneyStep], str]) -> list[str]:
    """A heading and one line per journey step (none when no step has the figure)."""
    if not steps:
        return []
    return ["", heading, "", *(f"- journey at {s.rate:g}/s: {line(s)}" for s in steps)]


def _gc_line(step: JourneyStep) -> str:
    gc = step.gc or {}
    return (f"{gc['collections']:.0f} collections, {gc['full']:.0f} of them full, {gc['total_ms']:,.1f} ms in all "
            f"({_n(step.per_call_ms(gc['total_ms'] / 1000), 2)} ms per call); longest since start "
            f"{gc['longest_ms_since_start']:,.1f} ms")


def _loop_line(step: JourneyStep) -> str:
    loop = step.loop or {}
    return (f"{loop['late']:.0f} of {loop['checks']:.0f} wake-ups late, {loop['total_lag_ms']:,.0f} ms of lag in all; "
            f"longest since start {loop['longest_ms_since_start']:,.0f} ms, its thread running "
            f"{loop['longest_running']:.0%} of it")


def _micro(ms: float | None) -> float | None:
    return None if ms is None else ms * 1000


def _spread(s: Spread, digits: int = 0) -> str:
    return f"{_n(s.p50, digits)} / {_n(s.p95, digits)} / {_n(s.max, digits)}"


def _recorded(step: JourneyStep) -> str:
    """Recorded of connected conversations: both paths must record every one to be the same journey."""
    if step.recorded is None or step.connected is None:
        return "–"
    return f"{step.recorded}/{step.connected}"


def _controller_cpu(step: JourneyStep) -> str:
    figure = _n(step.per_call_ms(step.controller_cpu_s), 1)
    # On the app_queue path the controller only idles (agent desk, supervisors, timers): its cost then.
    return figure if step.path == "journey" else f"({figure} idle)"


def _without_passwords(step: JourneyStep) -> str:
    if step.path != "journey":
        return "–"
    return f"{_n(step.per_call_ms(step.controller_cpu_without_passwords_s), 1)} ({_n(step.password_checks)})"


def headline(steps: Sequence[JourneyStep]) -> dict[str, Any]:
    knees = {path: knee(steps, path) for path in PATH_NAMES}
    ours, theirs = knees["journey"][0], knees["app_queue"][0]
    at_knee = next((s for s in steps if s.path == "journey" and s.rate == ours), None)
    cpu = [s.per_call_ms(s.controller_cpu_s) for s in steps if s.path == "journey"]
    bare = [s.per_call_ms(s.controller_cpu_without_passwords_s) for s in steps if s.path == "journey"]
    checks = next((s.password_check_cpu_s for s in steps if s.password_check_cpu_s is not None), None)
    return {
        "knees": {p: {"sustained": k[0], "first_failing": k[1]} for p, k in knees.items()},
        "ratio": None if ours is None or not theirs else round(ours / theirs, 2),
        "controller_cpu_ms_per_call_at_knee":
            None if at_knee is None else at_knee.per_call_ms(at_knee.controller_cpu_s),
        "controller_cpu_ms_per_call_range": [min(c for c in cpu if c is not None),
                                             max(c for c in cpu if c is not None)] if any(cpu) else None,
        "controller_cpu_ms_per_call_without_password_checks_range":
            [min(c for c in bare if c is not None), max(c for c in bare if c is not None)] if any(bare) else None,
        "password_check_cpu_ms": None if checks is None else round(checks * 1000, 4),
    }


def markdown(steps: Sequence[JourneyStep], params: dict[str, Any]) -> str:
    head = headline(steps)
    lines = [
        "# Hotline journey benchmark",
        "",
        f"Command: `{params['command']}`; {params['started']}, {params['duration_s']:.0f} s, {params['cpus']} cores, "
        f"load average before {' / '.join(f'{x:.2f}' for x in params['load_average_before'])}; {params['asterisk']}.",
        "",
        f"{params['agents']} SIPp agents (answer after {params['answer_after_s']:g} s, talk {params['talk_s']:g} s, "
        f"after-call work {params['acw_s']:g} s), steps of {params['seconds']} s, {params['share']:.0%} of callers "
        "through the self-service look-up with password, the rest 0 for an agent. Paths: `journey` (controller: "
        "IVR, queue, agents, recording, journal) and `app_queue` (dialplan IVR, app_queue with the same agents as "
        "static members, MixMonitor, queue_log).",
        "",
        "| path | rate/s | done | recorded | INVITE→200 ms p50/p95/max | answer→greeting ms p50/p95/max "
        "| key→prompt ms p50/p95/max "
        "| queue wait s p50/p95/max | ring→answer ms p50/p95 | peak ch | Asterisk CPU ms/call | controller CPU ms/call "
        "| controller without password checks ms/call (checks) | ctl RSS MiB | journal rows/s "
        "| box busy % (stolen) / CPU waited % | verdict |",
        "|---|---:|---:|---:|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in sorted(steps, key=lambda s: (PATH_NAMES.index(s.path), s.rate)):
        verdict = "sustained" if s.sustained else "not: " + ", ".join(s.verdict.failed)
        ring = f"{_n(s.ring_answer_ms.p50)} / {_n(s.ring_answer_ms.p95)}"
        lines.append(
            f"| {s.path} | {s.rate:g} | {s.completed}/{s.planned} | {_recorded(s)} | {_spread(s.answer_ms, 1)} "
            f"| {_spread(s.greeting_ms)} | {_spread(s.key_prompt_ms)} | {_spread(s.queue_wait_s, 2)} | {ring} "
            f"| {_n(s.peak_channels)} "
            f"| {_n(s.per_call_ms(s.asterisk_cpu_s), 1)} | {_controller_cpu(s)} | {_without_passwords(s)} "
            f"| {_n(s.controller_rss_mib, 0)} | {_n(s.journal_rows_per_s, 0)} | {_box(s)} | {verdict} |")
    split = [s for s in sorted(steps, key=lambda s: s.rate) if s.path == "journey"]
    if split:
        lines += ["", "key→prompt ms p50/p95/max split in two (the criterion takes all keys): the keys that end a "
                  "service password, whose prompt waits for the password check, and the other keys:", ""]
        lines += [f"- journey at {s.rate:g}/s: after a password {_spread(s.key_prompt_after_password_ms)}; "
                  f"other keys {_spread(s.key_prompt_other_ms)}" for s in split]
    lines += _per_step(
        [s for s in split if s.ari_requests is not None],
        "ARI traffic per journey call (the controller's own count, steady where CPU seconds vary with the box):",
        lambda s: f"{_n(s.per_call(s.ari_requests), 1)} requests, {_n(s.per_call(s.ari_events), 1)} events")
    lines += _per_step(
        [s for s in split if s.gc is not None],
        "The controller's garbage collections over each journey step (the collector stops every thread while it "
        "runs; its own count, from its live status):",
        _gc_line)
    lines += _per_step(
        [s for s in split if s.loop is not None],
        "The controller's event loop over each journey step (a task asks to wake every 0.1 s; late: woke more than "
        "0.1 s late; its own count, from its live status):",
        _loop_line)
    lines += ["", "Why a step was not sustained:", ""]
    lines += [f"- {s.path} at {s.rate:g}/s: {s.verdict.explain()}" for s in steps if not s.sustained] or ["- none"]
    k = head["knees"]

    def rate_text(path: str) -> str:
        sustained, failing = k[path]["sustained"], k[path]["first_failing"]
        if failing is None:
            return f"≥ {_n(sustained, 1)}/s (every rate tried sustained: a lower bound)"
        return f"{_n(sustained, 1)}/s (first not sustained: {failing:g}/s)"

    lines += [
        "",
        f"**Sustained**: journey {rate_text('journey')}; app_queue {rate_text('app_queue')}; "
        f"ratio journey / app_queue: {_n(head['ratio'], 2)} (target ≥ 1.0).",
        f"**Controller CPU per call**: {_n(head['controller_cpu_ms_per_call_at_knee'], 1)} ms at the journey's "
        "knee (target ≤ 5 ms); range over the journey's steps: "
        + (" – ".join(f"{x:.1f}" for x in head["controller_cpu_ms_per_call_range"]) + " ms"
           if head["controller_cpu_ms_per_call_range"] else "–") + "; without the service-password checks: "
        + (" – ".join(f"{x:.1f}" for x in head["controller_cpu_ms_per_call_without_password_checks_range"]) + " ms"
           if head["controller_cpu_ms_per_call_without_password_checks_range"] else "–")
        + f" (one check: {_n(_micro(head['password_check_cpu_ms']), 1)} µs of CPU, {PASSWORD_SCHEME}, timed apart on "
        "this box and multiplied by the step's `password.checked` events).",
        "",
        "Measured: CPU = utime+stime from /proc over the step (calls still in progress at the end of the step "
        "are in it: the step ends when the last SIPp call has ended); key→prompt = the journal's `ivr.digits` "
        "time to the start of the next prompt (controller clock; app_queue: not measured); answer→greeting = "
        "the journal's `call.started` (Asterisk's StasisStart stamp, just after the dialplan's Answer) to the "
        "start of the first prompt (app_queue: not measured); queue wait = "
        "journal (journey) or queue_log CONNECT hold time (app_queue, whole seconds); ring→answer = the agents' "
        "SIPp logs (INVITE in → ACK in); recorded = conversations recorded of those connected to an agent "
        "(journey: calls with `recording.saved` in the journal; app_queue: MixMonitor files of the step against "
        "queue_log CONNECT lines). Not measured: what the caller hears (no RTP analysis), the bench "
        "process's own CPU (SIPp and the Python SIPp agents share the cores).",
        "",
    ]
    return "\n".join(lines)


def to_json(steps: Sequence[JourneyStep], params: dict[str, Any]) -> dict[str, Any]:
    return {"params": params, "headline": headline(steps), "steps": [step_json(s) for s in steps]}


def chart(steps: Sequence[JourneyStep], path: Path) -> None:
    """Latency (p95 INVITE->200, p95 queue wait) and CPU per call against the rate, both paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, style in (("journey", "-o"), ("app_queue", "--s")):
        mine = sorted((s for s in steps if s.path == name), key=lambda s: s.rate)
        if not mine:
            continue
        rates = [s.rate for s in mine]
        lat.plot(rates, [s.answer_ms.p95 or 0 for s in mine], style, label=f"{name}: p95 INVITE→200 (ms)")
        lat.plot(rates, [(s.queue_wait_s.p95 or 0) * 1000 for s in mine], style, alpha=0.5,
                 label=f"{name}: p95 queue wait (ms)")
        cpu.plot(rates, [s.per_call_ms(s.asterisk_cpu_s) or 0 for s in mine], style, label=f"{name}: Asterisk")
        if name == "journey":
            cpu.plot(rates, [s.per_call_ms(s.controller_cpu_s) or 0 for s in mine], ":o", label="journey: controller")
            cpu.plot(rates, [s.per_call_ms(s.controller_cpu_without_passwords_s) or 0 for s in mine], ":^",
                     label="journey: controller without password checks")
    lat.set_xlabel("calls/s")
    lat.set_ylabel("ms")
    lat.set_yscale("symlog")
    lat.set_title("Latency")
    lat.legend(fontsize=7)
    cpu.set_xlabel("calls/s")
    cpu.set_ylabel("CPU ms per call")
    cpu.set_title("CPU per call")
    cpu.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
