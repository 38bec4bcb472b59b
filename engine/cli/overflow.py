"""`hotline overflow check|simulate`: the overflow ladder without a controller.

`check` reads the queue file (``acd.queues``; the ladders through ``acd.overflow_config``) and prints every
problem as ``file:line: message``. `simulate` replays a load curve through the pure ladder
(``acd.overflow``) and a simple deterministic queue model (``acd.overflow_simulate``): when each stage
fires and leaves, who is signed in and out, and the waiting line it leads to, so a planner can try a ladder
before a holiday without a PBX. The live commands talk to the running controller's surge plan
(engine.queueing.surge): `status` reads its live snapshot, `history` the ``overflow_events`` journal, and
`set|hold|release` queue a request in ``overflow_requests`` and wait for its answer. No business logic here.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from acd.model import QueueName
from acd.overflow import NORMAL, Ladder, RaiseAlert, SignInTier
from acd.overflow_simulate import SimulationResult, offset, parse_curve, simulate
from acd.queues import QueueConfigError, load_queues
from engine.app import LIVE_STATUS_FILE
from engine.cli.context import CliContext, emit_json, open_journal, pass_cli
from engine.errors import DomainError, SettingsError, UnreachableError
from engine.queueing.desk import read_snapshot
from engine.store.overflow_store import describe_event, overflow_history_rows, request_and_wait

DAY = "2026-01-05"  # a Monday: the runs are repeatable; only the clock time matters (night window)

_file_option = click.option("--file", "file", type=click.Path(path_type=Path, dir_okay=False), default=None,
                            help="Queue file (default: the queues_file setting, acd/queues.yaml).")


@click.group("overflow")
def overflow() -> None:
    """The overflow ladder (reserve tiers signed in by stage): check it, try it on a load curve."""


@overflow.command("check")
@_file_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def overflow_check(ctx: click.Context, file: Path | None, as_json: bool) -> None:
    """Check the queue file and its ladders; every problem as file:line; exit 2 on any."""
    path = file or ctx.find_object(CliContext).settings.queues_path  # type: ignore[union-attr]
    try:
        queues = load_queues(path)
    except QueueConfigError as err:
        if as_json:
            emit_json({str(path): [{"line": p.line, "message": p.message} for p in err.problems]})
        else:
            for problem in err.problems:
                click.echo(str(problem))
        ctx.exit(2)
    if as_json:
        emit_json({str(path): []})
        return
    for name, queue in queues.items():
        ladder = queue.overflow
        click.echo(f"ok {name}: " + (_describe(ladder) if ladder is not None else "no overflow ladder"))


def _describe(ladder: Ladder) -> str:
    steps = []
    for stage in ladder.stages:
        match stage.action:
            case SignInTier(tier=tier, up_to=up_to):
                act = f"sign in {'all' if up_to is None else f'up to {up_to}'} {tier}"
            case RaiseAlert(target=target, answer_within_s=within):
                act = f"alert (seats for {target:.0%} in {within:g} s)"
        steps.append(f"{stage.name} [{stage.condition.describe()} for {stage.hold_s:g} s: {act}]")
    night = f"; night {ladder.night}" if ladder.night is not None else ""
    return (" > ".join(steps) + f"; release when waiting <= {ladder.release_waiting} for "
            f"{ladder.release_dwell_s:g} s (stage at least {ladder.min_stage_s:g} s){night}")


def _tiers(text: str | None, ladder: Ladder) -> dict[str, int]:
    if text is None:
        return {s.action.tier: 3 for s in ladder.stages if isinstance(s.action, SignInTier)}
    tiers: dict[str, int] = {}
    for part in text.split(","):
        name, _, count = part.partition("=")
        if not name.strip() or not count.strip().isdigit():
            raise click.BadParameter(f"'{part}' is not tier=count", param_hint="--tiers")
        tiers[name.strip()] = int(count)
    return tiers


@overflow.command("simulate")
@click.option("--queue", "queue_name", default="general", show_default=True, help="Queue whose ladder to try.")
@_file_option
@click.option("--arrivals", required=True,
              help="Load curve, calls per hour at evenly spaced points: 120/h..600/h..120/h (or 5/min).")
@click.option("--aht", "aht_s", type=click.FloatRange(min=1), default=300, show_default=True,
              help="Average handle time, seconds (talk + wrap-up).")
@click.option("--agents", type=click.IntRange(min=0), default=20, show_default=True,
              help="Inbound agents signed in.")
@click.option("--tiers", "tiers_text", default=None,
              help="Reserve agents per tier, e.g. expert=3,outbound=3 (default: 3 of each tier the ladder uses).")
@click.option("--hours", type=click.FloatRange(min=0.1, max=48), default=4, show_default=True,
              help="Length of the run.")
@click.option("--start", "start_text", default="09:00", show_default=True, help="Clock time the run starts (HH:MM).")
@click.option("--patience", "patience_s", type=click.FloatRange(min=1), default=None,
              help="Seconds before a waiting caller leaves the line (default: the queue's max_wait_s).")
@click.option("--acw", "acw_s", type=click.FloatRange(min=0), default=None,
              help="Wrap-up part of the handle time (default: the acw_seconds setting).")
@click.option("--every", "every_min", type=click.IntRange(min=1), default=15, show_default=True,
              help="Minutes between lines of the waiting-line table.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def overflow_simulate(obj: CliContext, queue_name: str, file: Path | None, arrivals: str, aht_s: float, agents: int,
                      tiers_text: str | None, hours: float, start_text: str, patience_s: float | None,
                      acw_s: float | None, every_min: int, as_json: bool) -> None:
    """Replay a load curve through the queue's ladder: when each stage fires and leaves, and the line."""
    settings = obj.settings
    try:
        curve = parse_curve(arrivals)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--arrivals") from None
    try:
        start = datetime.strptime(f"{DAY} {start_text}", "%Y-%m-%d %H:%M").replace(tzinfo=settings.tz)
    except ValueError:
        raise click.BadParameter(f"'{start_text}' is not HH:MM", param_hint="--start") from None
    path = file or settings.queues_path
    queues = load_queues(path)
    queue = queues.get(QueueName(queue_name))
    if queue is None:
        raise SettingsError(f"no queue '{queue_name}' in {path} (have: {', '.join(sorted(queues))})")
    if queue.overflow is None:
        raise SettingsError(f"queue '{queue_name}' has no overflow ladder in {path}")
    ladder = queue.overflow
    reserves = _tiers(tiers_text, ladder)
    result = simulate(ladder, queue.name, curve, hours=hours, aht_s=aht_s, agents=agents, reserves=reserves,
                      start=start, service_level_s=queue.service_level_s,
                      patience_s=patience_s if patience_s is not None else queue.max_wait_s,
                      acw_s=acw_s if acw_s is not None else settings.acw_seconds, sample_every_s=every_min * 60)
    if as_json:
        emit_json({"queue": queue.name, "arrivals_per_h": list(curve), "hours": hours, "aht_s": aht_s,
                   "agents": agents, "tiers": reserves, **result.to_json()})
        return
    click.echo(f"queue {queue.name}: {agents} inbound agents; reserves "
               f"{', '.join(f'{t} {n}' for t, n in reserves.items()) or 'none'}; handle time {aht_s:g} s; "
               f"arrivals {arrivals} over {hours:g} h from {start_text}")
    click.echo(f"ladder: {_describe(ladder)}")
    click.echo("")
    _print(result, start)


def _print(result: SimulationResult, start: datetime) -> None:
    click.echo(f"{'when':<9} {'clock':<5}  {'ladder':<24} {'waiting':>7} {'longest':>8}  detail")
    if not result.fired:
        click.echo("(the ladder never moved)")
    for f in result.fired:
        click.echo(f"{offset(start, f.at):<9} {f.at:%H:%M}  {f.what:<24} {f.reading.waiting:>7} "
                   f"{f.reading.longest_wait_s:>7.0f}s  {f.detail}")
    click.echo("")
    click.echo(f"{'when':<9} {'clock':<5}  {'calls/h':>7} {'waiting':>7} {'longest':>8} {'SL':>5} {'agents':>6}  stage")
    for s in result.samples:
        sl = "-" if s.service_level is None else f"{s.service_level:.0%}"
        click.echo(f"{offset(start, s.at):<9} {s.at:%H:%M}  {s.arrivals_per_h:>7.0f} {s.waiting:>7} "
                   f"{s.longest_wait_s:>7.0f}s {sl:>5} {s.agents_serving:>6}  {s.stage}")
    click.echo("")
    in_time = f"{result.answered_in_time / result.answered:.0%}" if result.answered else "-"
    click.echo(f"offered {result.offered}, answered {result.answered} ({in_time} within the target), "
               f"gave up {result.gave_up}; longest line {result.max_waiting}")
    stages = [f for f in result.fired if "->" in f.what]
    if stages and not stages[-1].what.endswith(f"-> {NORMAL}"):
        click.echo(f"at the end the ladder is still at stage {stages[-1].what.split('-> ')[1]}")


# -- live commands: the running controller's surge plan -----------------------------------------------------


@overflow.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--watch", is_flag=True, help="Refresh every second until Ctrl-C.")
@pass_cli
def overflow_status(obj: CliContext, as_json: bool, watch: bool) -> None:
    """Each queue's stage, the measurement behind it, who the plan signed in and when, the last alert."""
    path = obj.settings.data_dir / LIVE_STATUS_FILE
    while True:
        snapshot = read_snapshot(path)
        if snapshot is None:
            raise UnreachableError("no live status: the controller is not running (`hotline run`)")
        plans = {q["queue"]: q.get("overflow") for q in snapshot["queues"] if q.get("overflow")}
        if as_json:
            emit_json(plans)
        else:
            click.echo(("\x1b[2J\x1b[H" if watch else "") + _render_plans(plans))
        if not watch:
            return
        time.sleep(1)


def _render_plans(plans: dict[str, Any]) -> str:
    if not plans:
        return "no queue has an overflow ladder"
    lines = []
    for queue, plan in sorted(plans.items()):
        since = f" since {plan['since'][11:19]}" if plan.get("since") else ""
        night = ", night mode" if plan.get("night") else ""
        lines.append(f"{queue}: stage {plan['stage']} ({plan['index']}/{plan['stages']}, {plan['mode']}{night}){since}")
        if plan.get("measured"):
            lines.append(f"  measured: {plan['measured']}")
        for entry in plan.get("signed_in", []):
            lines.append(f"  signed in by {entry['stage']}: agent {entry['agent']} ({entry['tier']}) at "
                         f"{entry['at'][11:19]}")
        if plan.get("leaving"):
            lines.append(f"  leaving after their calls: {', '.join(plan['leaving'])}")
        if plan.get("alert"):
            lines.append(f"  last alert: {plan['alert']}")
    return "\n".join(lines)


@overflow.command("history")
@click.option("--since", default=None, help="From this local time (YYYY-MM-DD [HH:MM]); default: last 24 h.")
@click.option("--queue", "queue_name", default=None, help="One queue only.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_cli
def overflow_history(obj: CliContext, since: str | None, queue_name: str | None, as_json: bool) -> None:
    """Every stage change, sign-in, sign-out, skip and alert, with the measurement that triggered it."""
    settings = obj.settings
    try:
        start = (datetime.fromisoformat(since).replace(tzinfo=settings.tz) if since
                 else datetime.now(settings.tz) - timedelta(hours=24))
    except ValueError:
        raise SettingsError(f"--since {since!r} is not a date (YYYY-MM-DD [HH:MM])") from None
    with open_journal(settings) as db:
        rows = overflow_history_rows(db, start, queue_name)
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("no overflow events in that period")
    for row in rows:
        at = row["at"].astimezone(settings.tz)
        click.echo(f"{at:%Y-%m-%d %H:%M:%S} {row['queue']:<10} {describe_event(row['data'])}")


def _request(obj: CliContext, queue: str, action: str, stage: str | None, reason: str | None) -> None:
    with open_journal(obj.settings) as db:
        result = request_and_wait(db, queue, action, stage, reason)
    if result is None:
        raise UnreachableError("no answer from the controller within 5 s: is `hotline run` running?")
    if result != "ok":
        raise DomainError(result)
    click.echo(f"overflow {queue}: {action}{' ' + stage if stage else ''} done")


@overflow.command("set")
@click.argument("queue")
@click.argument("stage")
@pass_cli
def overflow_set(obj: CliContext, queue: str, stage: str) -> None:
    """Move QUEUE's ladder to STAGE (a name, or 0 for normal) now; it stays there until `overflow release`."""
    _request(obj, queue, "set", stage, None)


@overflow.command("hold")
@click.argument("queue")
@pass_cli
def overflow_hold(obj: CliContext, queue: str) -> None:
    """Freeze QUEUE's ladder at its current stage until `overflow release`."""
    _request(obj, queue, "hold", None, None)


@overflow.command("release")
@click.argument("queue")
@pass_cli
def overflow_release(obj: CliContext, queue: str) -> None:
    """Give QUEUE's ladder back to its rules (after `set` or `hold`)."""
    _request(obj, queue, "release", None, None)
