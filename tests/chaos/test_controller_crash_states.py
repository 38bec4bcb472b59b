"""The controller is killed (SIGKILL) with callers in the four states test_controller_crash.py does not
cover, all in one crash: the next controller takes each up, and nobody is lost.

- ringing an agent: the agent's softphone rings (and answers 3 s later, while no controller listens). The
  next controller hangs that leg up, the caller goes back to the queue at their place, is offered again
  and talks to the agent;
- in the silent-call script: the agent pressed *81, the engine is saying the script; the next controller
  goes on at the script's step (the greetings already said are not said again) and hangs up as the
  script says, outcome "silent";
- leaving a message: the caller speaks after the beep; Asterisk keeps recording without a controller, the
  next one waits for the end of the message and saves it once, then thanks the caller;
- in a callback: the agent and the customer of a booked callback are talking; they go on talking in the
  same bridge, the recording runs through, and the booking is done once, never dialled a second time.

Agents: 2901 (general, answers after 3 s), 2902 (general, presses *81; takes one call only, so a second
offer is refused busy), 2903 (vip: the callback's queue). Callers 1374000000x.
"""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.callbacks import store
from engine.store.message_tables import messages
from engine.store.queries import CallSummary, recent_calls
from engine.testcall import CallReport, place_call
from engine.testcall.agent import AgentAction, AgentEvent, SippAgent
from tests.chaos.test_controller_crash import after_readoption
from tests.pbx.conftest import Pbx
from tests.pbx.harness import app_registered, hotline, wait_until
from tests.pbx.test_acd import agent_states
from tests.pbx.test_call_journey import journaled_call
from tests.pbx.test_callbacks import customer
from tests.pbx.test_ivr import events
from tests.pbx.test_scripts import prompts

pytestmark = [pytest.mark.pbx, pytest.mark.chaos, pytest.mark.timeout(240)]

RINGING, IN_SCRIPT, MESSAGE, CALLBACK = "13740000001", "13740000002", "13740000003", "13740000004"
# Key gap for 3 (complaints: nobody serves it, so the message offer comes at once) then 1 (leave a message):
# the caller starts speaking one gap after the 1, just after the beep (as bench/soak.py's message callers).
MESSAGE_KEY_GAP_S = 8.2


def callback_call(pbx: Pbx, booking_id: int) -> CallSummary | None:
    """The booking's call once it is closed (its channel is named after the booking: cb<id>-...)."""
    engine = pbx.journal()
    try:
        return next((c for c in recent_calls(engine, 50) if c.call_uid.startswith(f"cb{booking_id}-")
                     and c.outcome is not None), None)
    finally:
        engine.dispose()


def messages_of(pbx: Pbx, call_uid: str) -> list[float]:
    """The seconds of each message (work item) the call left."""
    engine = pbx.journal()
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(messages.c.seconds).where(messages.c.call_uid == call_uid))
            return [float(r[0]) for r in rows]
    finally:
        engine.dispose()


def add_agents(pbx: Pbx, folder: Path) -> dict[str, dict[str, str]]:
    """2901 and 2902 (general) and 2903 (vip) in one import (one CLI run, one PBX reload); their accounts."""
    (folder / "agents.csv").write_text("work_number,name,skills\n2901,Agent 2901,general\n"
                                       "2902,Agent 2902,general\n2903,Agent 2903,vip\n", encoding="utf-8")
    hotline(pbx.config_file, "agent", "import", str(folder / "agents.csv"), "--credentials",
            str(folder / "credentials.csv"))
    with (folder / "credentials.csv").open(encoding="utf-8") as stream:
        return {row["work_number"]: row for row in csv.DictReader(stream)}


def all_registered(pbx: Pbx, numbers: tuple[str, ...]) -> bool:
    result = hotline(pbx.config_file, "status", "--json", check=False)
    if result.returncode != 0:
        return False
    seen = {a["agent"]: a for a in json.loads(result.stdout)["agents"]}
    return all(seen.get(n, {}).get("registered") for n in numbers)


def book_callback(pbx: Pbx, now: datetime) -> int:
    """A booking due at once in the vip queue (only 2903 serves it), as the caller's key 2 would leave it."""
    engine = pbx.journal()
    try:
        return store.book(engine, call_uid=f"chaos-{now.timestamp():.0f}", caller=CALLBACK, queue="vip",
                          priority=0, waiting_since=now, now=now, first_attempt_at=now)
    finally:
        engine.dispose()


def ended_once(evts: list[tuple[str, dict[str, Any]]]) -> bool:
    return [k for k, _ in evts].count("call.ended") == 1


def test_ringing_script_message_and_callback_callers_carry_on_after_a_controller_crash(pbx: Pbx,
                                                                                      tmp_path: Path) -> None:
    accounts = add_agents(pbx, tmp_path)
    sip_port = pbx.settings.pbx.sip_port
    controller = pbx.controller().start()
    booking: dict[str, int] = {}

    star81 = [AgentAction(1.0, "keys", "*81")]

    def softphone(number: str, **kwargs: Any) -> SippAgent:
        return SippAgent(sip_user=accounts[number]["sip_user"], password=accounts[number]["password"],
                         target_port=sip_port, **kwargs)

    def call(caller: str, **kwargs: Any) -> asyncio.Task[CallReport]:
        return asyncio.create_task(place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                              caller_id=caller, **kwargs))

    async def scenario() -> tuple[list[CallReport], dict[str, tuple[int, int, int]]]:
        async with softphone("2901", answer_after_s=3.0, hangup_after_s=3.0) as one, \
                softphone("2902", answer_after_s=0.5, calls=1, actions=star81) as two, \
                softphone("2903", answer_after_s=0.5, hangup_after_s=30.0, talk=True) as three, \
                customer(pbx, answer_after_s=1.0) as customer_phone:
            await asyncio.to_thread(wait_until, lambda: all_registered(pbx, ("2901", "2902", "2903")), 20,
                                    "the three softphones' registrations seen by the controller")
            # 2902 signs in first: it has waited longest, so the first general caller (the script) gets it.
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2902", "2901", "2903")
            booking["id"] = await asyncio.to_thread(book_callback, pbx, datetime.now(UTC))
            # The kill must fall while this caller's message is being recorded (about 17-27 s from now)...
            message = call(MESSAGE, keys=["3", "1"], key_gap_s=MESSAGE_KEY_GAP_S, speak=True, max_call_s=90)
            await asyncio.sleep(8.0)
            # ... while the script caller hears the script (from about 9 s after dialling, for about 15 s) ...
            script = call(IN_SCRIPT, keys=["0"], max_call_s=90)
            await asyncio.sleep(4.0)
            # ... and while this one rings 2901 (2902 is busy with the script caller by then).
            ringing = call(RINGING, keys=["0"], max_call_s=90)
            # The kill comes the moment 2901's phone rings (it answers 3 s later, with no controller).
            await one.wait_for(AgentEvent.INVITE, timeout_s=30)
            controller.kill()
            await asyncio.sleep(1.0)
            await asyncio.to_thread(controller.start)
            reports = list(await asyncio.gather(ringing, script, message))
            await customer_phone.wait_for(AgentEvent.REMOTE_BYE, timeout_s=40)
            # Every INVITE 2901 got has ended (cancelled or hung up): no agent leg is left behind.
            await asyncio.to_thread(wait_until, lambda: one.calls_ended >= one.calls_offered, 10,
                                    "2901's calls all ended")
            # (offered, answered, ended) per phone, read before the phones' logs go with them.
            phones = {"2901": one, "2902": two, "2903": three, "customer": customer_phone}
            return reports, {name: (p.calls_offered, p.calls_answered, p.calls_ended) for name, p in phones.items()}

    try:
        (ringing, script, message), phones = asyncio.run(scenario())
        assert app_registered(pbx.settings)
    finally:
        controller.stop()

    # Ringing: the leg rung by the dead controller was dropped; back in the queue at the same place,
    # offered again and served by 2901; the farewell after the agent hung up.
    assert ringing.answered and ringing.ended_by == "hotline", ringing
    evts = events(pbx, journaled_call(pbx, RINGING, "completed", timeout=30).id)
    resumed = after_readoption(evts)
    assert any(k == "call.resumed" and d["stage"] == "queued" for k, d in resumed), resumed
    # The offer itself is proven by 2901's phone (two INVITEs, below), not by the journal: the kill comes
    # within milliseconds of the ring, before the dead controller's writer may have committed its last entries.
    assert [d for k, d in evts if k == "queue.answered"] == [{"agent": "2901"}], evts
    assert len({d["queued_at"] for k, d in evts if k == "call.position" and d["stage"] == "queued"}) == 1
    assert prompts(resumed)[-1].startswith("farewell"), resumed
    offered, answered, ended = phones["2901"]
    assert offered >= 2 and answered >= 1 and ended == offered, phones
    assert ended_once(evts)

    # In the script: resumed at the step it was at; the greetings are said once in all, then the goodbye.
    assert script.answered and script.ended_by == "hotline", script
    evts = events(pbx, journaled_call(pbx, IN_SCRIPT, "silent", timeout=30).id)
    resumed = after_readoption(evts)
    readopted_at = [k for k, _ in evts].index("call.readopted")
    steps = [(i, d.get("step")) for i, (k, d) in enumerate(evts) if k == "call.position" and d["stage"] == "script"]
    assert any(k == "call.resumed" and d["stage"] == "script" for k, d in resumed), resumed
    # Went on from the step it was at (the previous controller's last one), through to the hang-up (6).
    last_before = [step for i, step in steps if i < readopted_at][-1]
    assert evts[readopted_at][1]["position"]["step"] == last_before, evts[readopted_at]
    after = [step for i, step in steps if i > readopted_at]  # the step resumed at is already written
    assert after and after == list(range(after[0], 7)) and after[0] <= last_before + 1, steps
    heard = prompts(evts)
    assert heard[len(heard) - heard[::-1].index("to-agent"):] == ["greeting", "greeting", "silent-goodbye"], heard
    assert [k for k, _ in evts].count("silent.started") == 1 and [k for k, _ in resumed].count("silent.ended") == 1
    assert ("on_call", "available", "handed-to-script") in agent_states(pbx, "2902")
    assert ended_once(evts)

    # Leaving a message: recording when the controller died, saved once after, then thanked.
    assert message.answered and message.ended_by == "hotline", message
    summary = journaled_call(pbx, MESSAGE, timeout=30)
    evts = events(pbx, summary.id)
    resumed = after_readoption(evts)
    assert "message.recording" in [k for k, _ in evts[:len(evts) - len(resumed)]], evts
    assert any(k == "call.resumed" and d["stage"] == "message" for k, d in resumed), resumed
    assert [k for k, _ in evts].count("message.saved") == 1 and "message.saved" in [k for k, _ in resumed]
    # One work item, with the whole message: what was said before the crash and after (7 s of speech).
    left = messages_of(pbx, summary.call_uid)
    assert len(left) == 1 and left[0] >= 6, left
    assert prompts(resumed)[-1] == "message-thanks", resumed
    assert ended_once(evts)

    # The callback: the conversation went on across the crash, recorded in one file; done once, dialled once.
    cb = wait_until(lambda: callback_call(pbx, booking["id"]), 30, "the callback call closed in the journal")
    assert cb.outcome == "completed", cb
    evts = events(pbx, cb.id)
    resumed = after_readoption(evts)
    assert any(k == "call.resumed" and d["stage"] == "talking" for k, d in resumed), resumed
    assert [k for k, _ in evts].count("callback.dialing") == 1 and "callback.done" in [k for k, _ in resumed]
    saved = [d for k, d in evts if k == "recording.saved"]
    # One file for the whole conversation, recorded across the crash (the agent talked 30 s).
    assert len(saved) == 1 and saved[0]["seconds"] >= 20, saved
    engine = pbx.journal()
    try:
        done = store.get(engine, booking["id"])
    finally:
        engine.dispose()
    assert done is not None and (done.status, done.attempts, done.agent) == ("done", 1, "2903"), done
    assert phones["customer"][:2] == (1, 1) and phones["2903"][:2] == (1, 1), phones
    assert ("available", "on_call", "readopted") in agent_states(pbx, "2903")
    assert ended_once(evts)
    assert phones["2902"][1] == 1, phones
