"""The ARI events websocket is cut while Asterisk and the controller stay up (a network blip).

The controller reconnects and reconciles with the channels Asterisk still holds; nothing restarts. The
agent hangs up while the websocket is down, so the controller never sees that event: the reconnect's
reconciliation finds the agent's leg gone and the talking caller hears the farewell (before the fix they
sat alone in the bridge until they hung up). A caller waiting behind them is served next; a caller in
the main menu presses a key after the reconnect and it works. Each call is closed once in the journal.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from engine.testcall import CallReport, place_call
from engine.testcall.agent import SippAgent
from tests.chaos.ari_proxy import AriRelay
from tests.chaos.test_controller_crash import journal_shows
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until
from tests.pbx.test_acd import add_agent, wait_registered
from tests.pbx.test_call_journey import journaled_call
from tests.pbx.test_ivr import events

pytestmark = [pytest.mark.pbx, pytest.mark.chaos, pytest.mark.timeout(240)]

TALKING, WAITING, IN_MENU = "13710000031", "13710000032", "13710000033"
TALK_S = 10.0


def test_callers_carry_on_through_a_dropped_events_websocket(pbx: Pbx) -> None:
    creds = add_agent(pbx, "2605")
    sip_port = pbx.settings.pbx.sip_port

    async def scenario() -> tuple[list[CallReport], int, str]:
        async with AriRelay(pbx.settings.pbx.ari_port) as relay:
            controller = pbx.controller({"HOTLINE_PBX_ARI_PORT": str(relay.port)})
            await asyncio.to_thread(controller.start)
            try:
                async with SippAgent(sip_user=creds["sip_user"], password=creds["password"], target_port=sip_port,
                                     answer_after_s=0.5, hangup_after_s=TALK_S, talk=True):
                    await asyncio.to_thread(wait_registered, pbx, "2605")
                    await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", "2605")

                    def call(caller: str, **kwargs: Any) -> asyncio.Task[CallReport]:
                        return asyncio.create_task(place_call(target_port=sip_port,
                                                              dialed=pbx.settings.hotline_number,
                                                              caller_id=caller, **kwargs))
                    talking = call(TALKING, keys=["0"], max_call_s=60)
                    await asyncio.to_thread(wait_until, lambda: journal_shows(pbx, TALKING, "queue.answered"), 30,
                                            "the first caller talking to the agent")
                    agent_hangs_up = asyncio.get_running_loop().time() + TALK_S
                    waiting = call(WAITING, keys=["0"], max_call_s=90)
                    in_menu = call(IN_MENU, keys=["1"], first_key_delay_s=14, hangup_after_s=22, max_call_s=60)

                    def placed() -> bool:
                        return (journal_shows(pbx, WAITING, "queue.entered")
                                and journal_shows(pbx, IN_MENU, "ivr.node", node="main_menu"))
                    await asyncio.to_thread(wait_until, placed, 30, "a caller waiting and one in the menu")
                    # Down until a second after the agent's hang-up: that event is lost to the controller.
                    cut = relay.drop_events(refuse_for_s=agent_hangs_up + 1.0 - asyncio.get_running_loop().time())
                    await asyncio.to_thread(wait_until, lambda: relay.events_connections > 0, 20,
                                            "the controller's events websocket back")
                    reports = list(await asyncio.gather(talking, waiting, in_menu))
            finally:
                controller.stop()
            return reports, cut, controller.output()

    (talking, waiting, in_menu), cut, output = asyncio.run(scenario())
    assert cut == 1, cut
    assert "ARI events lost" in output, output[-3000:]

    # The talking caller stayed with the agent to the end: the agent hung up, the caller heard the farewell.
    assert talking.ended_by == "hotline" and talking.duration_s >= TALK_S, talking
    first = events(pbx, journaled_call(pbx, TALKING, "completed", timeout=30).id)
    saved = [d for k, d in first if k == "recording.saved"]
    assert len(saved) == 1 and saved[0]["seconds"] >= TALK_S - 2, saved
    # Served by the same task all along: nothing was re-adopted or resumed.
    assert not any(k in ("call.readopted", "call.resumed") for k, _ in first), first

    assert waiting.ended_by == "hotline", waiting
    second = events(pbx, journaled_call(pbx, WAITING, "completed", timeout=30).id)
    assert ("queue.answered", {"agent": "2605"}) in second, second

    third = events(pbx, journaled_call(pbx, IN_MENU, timeout=30).id)
    nodes = [d["node"] for k, d in third if k == "ivr.node"]
    assert "main_menu" in nodes and nodes[nodes.index("main_menu") + 1] == "self_service", nodes
    assert in_menu.ended_by == "caller", in_menu

    for caller in (TALKING, WAITING, IN_MENU):
        kinds = [k for k, _ in events(pbx, journaled_call(pbx, caller).id)]
        assert kinds.count("call.ended") == 1, (caller, kinds)
