"""The controller is killed (SIGKILL) with callers in every stage of their journey; the next controller
takes each up where they were.

One caller talks to an agent on a SIPp softphone, one waits in the queue behind them, one listens to the
main menu. After the kill and a restart: the talking caller stays bridged with the same agent and the
recording runs on to the end of the conversation; the waiting caller keeps their place and is served
next; the menu caller hears the main menu again (not the greeting) and their key there still works.
Every call is closed exactly once in the journal.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from engine.testcall import CallReport, place_call
from engine.testcall.agent import AgentAction, SippAgent
from tests.pbx.conftest import Pbx
from tests.pbx.harness import app_registered, hotline, wait_until
from tests.pbx.test_acd import add_agent, agent_states, wait_registered
from tests.pbx.test_call_journey import journaled_call
from tests.pbx.test_ivr import events

pytestmark = [pytest.mark.pbx, pytest.mark.chaos, pytest.mark.timeout(240)]

TALKING, WAITING, IN_MENU = "13710000001", "13710000002", "13710000003"


def after_readoption(evts: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    kinds = [k for k, _ in evts]
    assert "call.readopted" in kinds, kinds
    return evts[kinds.index("call.readopted"):]


def journal_shows(pbx: Pbx, caller: str, kind: str, **data: Any) -> bool:
    try:
        call = journaled_call(pbx, caller, timeout=0.5)
    except AssertionError:
        return False
    return any(k == kind and all(d.get(f) == v for f, v in data.items()) for k, d in events(pbx, call.id))


def test_callers_in_every_stage_carry_on_after_a_controller_crash(pbx: Pbx) -> None:
    creds = add_agent(pbx, "2601")
    sip_port = pbx.settings.pbx.sip_port
    controller = pbx.controller().start()

    async def crash_when_all_are_placed() -> None:
        def placed() -> bool:
            return (journal_shows(pbx, TALKING, "queue.answered", agent="2601")
                    and journal_shows(pbx, WAITING, "queue.entered")
                    and journal_shows(pbx, IN_MENU, "ivr.node", node="main_menu"))
        await asyncio.to_thread(wait_until, placed, 40, "a caller talking, one waiting and one in the menu")
        await asyncio.sleep(1.0)  # let the journal writer flush what the first controller saw
        controller.kill()
        await asyncio.sleep(1.0)
        await asyncio.to_thread(controller.start)

    async def scenario() -> list[CallReport]:
        async with SippAgent(sip_user=creds["sip_user"], password=creds["password"], target_port=sip_port,
                             answer_after_s=0.5, hangup_after_s=20.0, talk=True):
            await asyncio.to_thread(wait_registered, pbx, "2601")
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2601")

            def call(caller: str, **kwargs: Any) -> asyncio.Task[CallReport]:
                return asyncio.create_task(place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                                      caller_id=caller, **kwargs))
            talking = call(TALKING, keys=["0"], max_call_s=90)
            await asyncio.to_thread(wait_until, lambda: journal_shows(pbx, TALKING, "queue.answered"), 30,
                                    "the first caller talking to the agent")
            waiting = call(WAITING, keys=["0"], max_call_s=120)
            # The menu caller presses 1 (self-service) well after the restart: the resumed menu must take it.
            in_menu = call(IN_MENU, keys=["1"], first_key_delay_s=22, hangup_after_s=30, max_call_s=60)
            await crash_when_all_are_placed()
            return list(await asyncio.gather(talking, waiting, in_menu))

    try:
        talking, waiting, in_menu = asyncio.run(scenario())
        assert app_registered(pbx.settings)
    finally:
        controller.stop()

    # The talking caller stayed with the agent: the agent hung up, the caller heard the farewell.
    assert talking.ended_by == "hotline" and talking.duration_s >= 19, talking
    first = events(pbx, journaled_call(pbx, TALKING, "completed", timeout=30).id)
    resumed = after_readoption(first)
    assert ("call.resumed", {"stage": "talking", "node": "agent_line", "queue": "general", "agent": "2601"}) in resumed
    assert [k for k, _ in resumed].count("call.agent_hung_up") == 1
    saved = [d for k, d in first if k == "recording.saved"]
    assert len(saved) == 1 and saved[0]["agent"] == "2601", saved
    # One file for the whole conversation, across the crash: 20 s of talk, recorded to the end.
    assert saved[0]["seconds"] >= 17, saved
    assert stat.S_IMODE(os.stat(Path(saved[0]["file"])).st_mode) & 0o077 == 0
    assert not any(k == "prompt.played" and d["prompt"].startswith("greeting") for k, d in resumed)

    # The waiting caller kept their place (same arrival time) and was served by the agent next.
    assert waiting.ended_by == "hotline", waiting
    second = events(pbx, journaled_call(pbx, WAITING, "completed", timeout=60).id)
    places = {d["queued_at"] for k, d in second if k == "call.position" and d["stage"] == "queued"}
    assert len(places) == 1, places
    assert ("queue.answered", {"agent": "2601"}) in after_readoption(second)

    # The menu caller heard the main menu again, not the greeting, and their key took them on.
    third = events(pbx, journaled_call(pbx, IN_MENU, timeout=30).id)
    after = after_readoption(third)
    assert [d["node"] for k, d in after if k == "ivr.node"][:2] == ["main_menu", "self_service"], after
    assert not any(k == "prompt.played" and d["prompt"].startswith("greeting") for k, d in after)
    assert in_menu.ended_by == "caller", in_menu

    for caller in (TALKING, WAITING, IN_MENU):
        kinds = [k for k, _ in events(pbx, journaled_call(pbx, caller).id)]
        assert kinds.count("call.ended") == 1, (caller, kinds)
    states = [(a, b, r) for a, b, r in agent_states(pbx, "2601")]
    assert ("available", "on_call", "readopted") in states, states


HELD = "13710000004"


def test_a_caller_on_hold_is_still_held_after_a_crash_and_comes_back_to_the_agent(pbx: Pbx) -> None:
    """The agent holds with the softphone's button; the controller is killed during the hold. The next
    controller keeps the caller on hold (music), the agent's resume button brings them back (thanks
    prompt, same bridge), the recording runs on in one file and the hold is journaled once."""
    creds = add_agent(pbx, "2603")
    sip_port = pbx.settings.pbx.sip_port
    controller = pbx.controller().start()

    async def scenario() -> CallReport:
        actions = [AgentAction(2.0, "hold"), AgentAction(11.0, "unhold")]
        async with SippAgent(sip_user=creds["sip_user"], password=creds["password"], target_port=sip_port,
                             answer_after_s=0.5, hangup_after_s=18.0, actions=actions, talk=True):
            await asyncio.to_thread(wait_registered, pbx, "2603")
            await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2603")
            held = asyncio.create_task(place_call(target_port=sip_port, dialed=pbx.settings.hotline_number,
                                                  caller_id=HELD, keys=["0"], max_call_s=60))
            await asyncio.to_thread(wait_until, lambda: journal_shows(pbx, HELD, "hold.started"), 40,
                                    "the caller on hold")
            await asyncio.sleep(1.0)
            controller.kill()
            await asyncio.sleep(1.0)
            await asyncio.to_thread(controller.start)
            return await held

    try:
        report = asyncio.run(scenario())
    finally:
        controller.stop()
    assert report.ended_by == "hotline" and report.duration_s >= 17, report
    evts = events(pbx, journaled_call(pbx, HELD, "completed", timeout=30).id)
    resumed = after_readoption(evts)
    assert any(k == "call.resumed" and d["stage"] == "held" for k, d in resumed), resumed
    ended = [d for k, d in evts if k == "hold.ended"]
    assert len(ended) == 1 and ended[0]["why"] in ("agent", "limit"), ended
    assert any(k == "prompt.played" and d["prompt"] == "hold-thanks" for k, d in resumed), resumed
    saved = [d for k, d in evts if k == "recording.saved"]
    assert len(saved) == 1 and saved[0]["seconds"] >= 15, saved
    states = agent_states(pbx, "2603")
    assert ("available", "on_hold", "readopted") in states, states
    assert [k for k, _ in evts].count("call.ended") == 1
