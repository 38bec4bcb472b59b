"""Entry point of ``make soak``: mixed callers for N minutes while the controller is SIGKILLed every K seconds.

    python -m bench.soak [--minutes 30] [--kill-every 180] [--rate 0.5] [--agents 6] [--holding 2]
                         [--talk 15] [--acw 2] [--seed 1] [--out bench/results] [--instance soak]

Brings up a private PBX instance and controller (``bench.pbx_session``) with the shipped flow open round
the clock (``bench.journey.open_all_day``) and the shipped queues; loads a self-service account for every
self-service caller's number; makes N agents with ``hotline agent import`` (``bench.journey_agents``), each a
registered SIPp softphone that answers after 0.5 s and hangs up after the talk time, ``--holding`` of them
putting the caller on hold with their hold button (re-INVITE sendonly at 3 s, sendrecv at 9 s); signs them in.
Then callers arrive at ``--rate`` per second, each a ``place_call`` (SIPp) of its own with its own number
(``bench.soak_classify.plan_callers``), through the shipped flow:

- ``agent``: 0 in the main menu, speaks, waits in the queue, talks until the agent hangs up (the farewell);
- ``self-service``: 1, 1, the password 123456#: the balance is read out; hangs up after 32 s;
- ``message``: 3 (complaints: nobody serves that queue, so the hotline offers a message at once), 1 during
  the offer, speaks after the beep; the hotline thanks them and hangs up;
- ``abandon``: 0, then hangs up 12-20 s after the answer, mostly while waiting in the queue.

Meanwhile the controller is killed (SIGKILL) every ``--kill-every`` seconds and started again at once
(``tests.pbx.harness.Controller``). Callers stop arriving after ``--minutes``; the run waits for every call to
end and the journal to settle, classifies each call from its SIPp report and its journal rows and counts the
journal's gaps (``bench.soak_classify``), and writes ``<out>/soak-<timestamp>.{md,json}`` (``bench.soak_report``).
Exit 0 when no caller was lost and the journal has no gap, 1 otherwise (the data folder, with the controller's
log, is then kept), 3 when the PBX could not be brought up.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from bench.journey import settings_head
from bench.journey_agents import Account, provision
from bench.pbx_session import BenchPbx, BenchRun, on_bench_pbx, sign_in_agents
from bench.soak_classify import (
    CallerPlan,
    CallerSide,
    JournalCall,
    JournalEvent,
    Verdict,
    by_number,
    classify,
    count,
    journal_gaps,
    plan_callers,
)
from bench.soak_report import Kill, markdown, to_json
from engine.settings import Settings
from engine.store.database import make_engine
from engine.store.tables import call_events, calls
from engine.testcall import place_call
from engine.testcall.agent import AgentAction, SippAgent
from tests.pbx.harness import Controller, hotline

PASSWORD = "123456"
SELF_SERVICE_KEYS = ("1", "1", *PASSWORD, "#")
HOLD_ACTIONS = (AgentAction(3.0, "hold"), AgentAction(9.0, "unhold"))
# The message caller's 1 falls inside the offer (greeting cut by the 3, then the 6.2 s complaints prompt,
# then the 11.6 s offer); the speech starts one gap after the 1, about when the beep ends the 7.3 s prompt.
MESSAGE_KEY_GAP_S = 8.2
# An agent caller waits for the hotline up to 4 minutes from the answer, then hangs up (lost). SIPp cannot
# load the test caller's scenario beyond about 260 s (its waits are cut into 0.5 s slices).
AGENT_CALLER_LIMIT_S = 240.0
# The controller's log line once it serves again (engine/app.py).
RUNNING_LINE = "hotline controller running"


def progress(line: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long callers arrive (default 30)")
    parser.add_argument("--kill-every", type=float, default=180.0, help="seconds between kills (default 180)")
    parser.add_argument("--rate", type=float, default=0.5, help="callers per second (default 0.5)")
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--holding", type=int, help="agents who hold each caller once (default a third)")
    parser.add_argument("--talk", type=float, default=15.0, help="seconds an agent talks (default 15)")
    parser.add_argument("--acw", type=float, default=2.0, help="after-call work seconds (default 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    parser.add_argument("--instance", default="soak")
    args = parser.parse_args(argv)
    if args.holding is None:
        args.holding = args.agents // 3
    if min(args.minutes, args.kill_every, args.rate, args.talk) <= 0 or not 0 <= args.holding <= args.agents \
            or args.agents < 1 or args.talk <= 10:
        parser.error("minutes, kill-every and rate must be positive, talk above 10 s (the hold ends at 9 s), "
                     "0 <= holding <= agents")
    return args


# -- set-up ---------------------------------------------------------------------------------------------
def write_accounts(path: Path, plans: Sequence[CallerPlan]) -> Path:
    """A self-service account (password 123456) for every self-service caller's number (hashed on load)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["number", "password", "balance_yuan", "bill_yuan"])
        for plan in plans:
            if plan.kind == "self-service":
                writer.writerow([plan.number, PASSWORD, "42.00", "18.00"])
    return path


class Floor:
    """The agents' softphones, registered and signed in while inside ``async with``."""

    def __init__(self, accounts: Sequence[Account], sip_port: int, args: argparse.Namespace, folder: Path) -> None:
        self.accounts = list(accounts)
        self.phones = [
            SippAgent(sip_user=a.sip_user, password=a.password, target_port=sip_port, answer_after_s=0.5,
                      hangup_after_s=args.talk, expires_s=3600, work_dir=folder / a.work_number,
                      actions=HOLD_ACTIONS if i < args.holding else ())
            for i, a in enumerate(accounts)]
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Floor:
        await self._stack.__aenter__()
        try:
            for phone in self.phones:
                await self._stack.enter_async_context(phone)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def sign_in(self, config_file: Path, timeout_s: float = 90) -> None:
        await sign_in_agents(config_file, {a.work_number for a in self.accounts}, timeout_s)


# -- callers and kills ------------------------------------------------------------------------------------
async def one_caller(plan: CallerPlan, pbx: BenchPbx, t0: float, folder: Path) -> CallerSide:
    await asyncio.sleep(max(0.0, t0 + plan.at_s - time.monotonic()))
    common: dict[str, Any] = {"target_port": pbx.settings.pbx.sip_port, "dialed": pbx.settings.hotline_number,
                              "caller_id": plan.number, "work_dir": folder / plan.number,
                              "first_key_delay_s": 2.0}
    if plan.kind == "agent":
        kwargs: dict[str, Any] = {"keys": ["0"], "speak": True, "max_call_s": AGENT_CALLER_LIMIT_S}
    elif plan.kind == "self-service":
        kwargs = {"keys": list(SELF_SERVICE_KEYS), "hangup_after_s": plan.hangs_up_after_s, "max_call_s": 60}
    elif plan.kind == "message":
        kwargs = {"keys": ["3", "1"], "key_gap_s": MESSAGE_KEY_GAP_S, "speak": True, "max_call_s": 150}
    else:
        kwargs = {"keys": ["0"], "speak": True, "hangup_after_s": plan.hangs_up_after_s, "max_call_s": 60}
    try:
        report = await place_call(**common, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a caller that could not run is a finding, not a crash
        return CallerSide(answered=False, status=None, ended_by="error", duration_s=0.0, error=repr(exc))
    return CallerSide(answered=report.answered, status=report.status, ended_by=report.ended_by,
                      duration_s=report.duration_s, error=report.error)


def runs(controller: Controller) -> int:
    """How many times the controller has said it is running (its log accumulates over restarts)."""
    try:
        return controller.output().count(RUNNING_LINE)
    except OSError:
        return 0


async def running_again(controller: Controller, before: int, timeout_s: float) -> bool:
    """Poll the controller's log until it says "running" once more than ``before``; False after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while runs(controller) <= before:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def killer(pbx: BenchPbx, t0: float, until: float, every: float, kills: list[Kill]) -> None:
    """SIGKILL the controller every ``every`` s until ``until`` (monotonic) and start it again at once.

    The restart time runs from the kill to the new controller's "running" log line (ARI connected, calls
    re-adopted): ``Controller.start`` returns at once, since Asterisk keeps the Stasis app registered
    after its websocket closed."""
    controller = pbx.controller
    n = 1
    while t0 + n * every < until:
        await asyncio.sleep(max(0.0, t0 + n * every - time.monotonic()))
        at = time.monotonic() - t0
        killed = time.monotonic()
        before = runs(controller)
        await asyncio.to_thread(controller.kill)
        ok = True
        try:
            await asyncio.to_thread(controller.start)
        except AssertionError as exc:  # not registered within 45 s: say so, try once more
            progress(f"controller restart failed: {exc}; trying again")
            ok = False
            if controller.proc is not None:
                await asyncio.to_thread(controller.kill)
            await asyncio.to_thread(controller.start)
        ok = ok and await running_again(controller, before, 60)
        kills.append(Kill(at_s=round(at, 1), restart_s=round(time.monotonic() - killed, 2), ok=ok))
        progress(f"kill {n} at {at:.0f} s: controller back after {kills[-1].restart_s:.1f} s")
        n += 1


# -- the journal ------------------------------------------------------------------------------------------
def read_journal(engine: Engine) -> list[JournalCall]:
    with engine.connect() as conn:
        rows = conn.execute(select(calls.c.id, calls.c.call_uid, calls.c.caller, calls.c.source,
                                   calls.c.outcome).order_by(calls.c.id)).all()
        events: dict[int, list[JournalEvent]] = {}
        for e in conn.execute(select(call_events.c.call_id, call_events.c.seq, call_events.c.kind,
                                     call_events.c.at, call_events.c.data)
                              .order_by(call_events.c.call_id, call_events.c.seq)):
            events.setdefault(e.call_id, []).append(JournalEvent(e.seq, e.kind, e.at, dict(e.data or {})))
    return [JournalCall(r.id, r.call_uid, r.caller, r.source, r.outcome, tuple(events.get(r.id, [])))
            for r in rows]


async def settled_journal(engine: Engine, numbers: set[str], timeout_s: float = 90) -> list[JournalCall]:
    """The journal once every caller's number is in it (or nothing changed for 15 s, or ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    last: tuple[int, int] | None = None
    quiet_since = time.monotonic()
    while True:
        journal = await asyncio.to_thread(read_journal, engine)
        shape = (len(journal), sum(len(c.events) for c in journal))
        if shape != last:
            last, quiet_since = shape, time.monotonic()
        closed = all("call.ended" in c.kinds() for c in journal)
        if (closed and numbers <= set(by_number(journal))) or time.monotonic() - quiet_since > 15 \
                or time.monotonic() > deadline:
            return journal
        await asyncio.sleep(2.0)


async def soak(pbx: BenchPbx, args: argparse.Namespace, plans: list[CallerPlan],
               workdir: Path) -> tuple[list[Kill], list[Verdict], list[JournalCall]]:
    accounts = await asyncio.to_thread(provision, pbx.config_file, workdir / "agents", args.agents)
    async with Floor(accounts, pbx.settings.pbx.sip_port, args, workdir / "phones") as floor:
        progress(f"{len(accounts)} agents registered ({args.holding} holding); signing them in")
        await floor.sign_in(pbx.config_file, timeout_s=90)
        progress(f"{len(plans)} callers over {args.minutes:g} min, a kill every {args.kill_every:g} s")
        kills: list[Kill] = []
        t0 = time.monotonic()
        callers = [asyncio.create_task(one_caller(p, pbx, t0, workdir / "callers")) for p in plans]
        kill_task = asyncio.create_task(killer(pbx, t0, t0 + args.minutes * 60, args.kill_every, kills))
        while not all(c.done() for c in callers):
            await asyncio.sleep(30)
            done = sum(1 for c in callers if c.done())
            progress(f"{time.monotonic() - t0:.0f} s: {done} of {len(plans)} calls over; {len(kills)} kills")
        sides = [c.result() for c in callers]
        await kill_task
        progress("every caller is done; waiting for Asterisk to be idle and the journal to settle")
        await asyncio.to_thread(pbx.wait_idle, 60)
        engine = make_engine(pbx.settings.db_url)
        try:
            journal = await settled_journal(engine, {p.number for p in plans})
        finally:
            engine.dispose()
    found = by_number(journal)
    verdicts = [classify(p, s, found.get(p.number, [])) for p, s in zip(plans, sides, strict=True)]
    return kills, verdicts, journal


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run = BenchRun.begin("soak", args.out, progress)
    if run is None:
        return 3
    data_dir, stem = run.data_dir, run.stem
    plans = plan_callers(args.rate, args.minutes * 60, seed=args.seed)
    head = settings_head(data_dir, args.acw)
    accounts = write_accounts(data_dir / "accounts.csv", plans)

    def load_accounts(settings: Settings, config_file: Path) -> None:
        hotline(config_file, "data", "load", "--accounts", str(accounts), timeout=120)

    # The data folder stays until the verdict: a run that lost a caller keeps it (the controller's log).
    outcome = on_bench_pbx(run, args.instance, data_dir, progress,
                           lambda pbx: asyncio.run(soak(pbx, args, plans, data_dir)),
                           settings_head=head, before_controller=load_accounts, keep_data=True)
    if outcome.result is None:
        return outcome.exit_code
    kills, verdicts, journal = outcome.result
    gaps = journal_gaps(journal)
    totals = count(verdicts)
    passed = totals["lost"] == 0 and not gaps
    keep = not passed
    params: dict[str, Any] = {
        "command": " ".join(["python -m bench.soak", *(sys.argv[1:] if argv is None else argv)]),
        **run.params(), "minutes": args.minutes,
        "kill_every_s": args.kill_every, "rate": args.rate, "agents": args.agents, "holding_agents": args.holding,
        "talk_s": args.talk, "acw_s": args.acw, "seed": args.seed,
        "data_dir": str(data_dir) if keep else None,
    }
    text = markdown(params, kills, verdicts, gaps)
    stem.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    stem.with_suffix(".json").write_text(json.dumps(to_json(params, kills, verdicts, gaps, journal), indent=2,
                                                    default=str) + "\n", encoding="utf-8")
    print(text)
    progress(f"wrote {stem}.md and .json")
    if keep:
        progress(f"kept the run's data (controller log: {data_dir / 'controller.log'})")
    else:
        shutil.rmtree(data_dir, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
