"""The caller-experience scripts on real calls: hold, the agent's in-call keys, the silent-call script.

Agents are SIPp softphones that press keys (SIP INFO) and put calls on hold (re-INVITE sendonly) at set
times after answering; the test queues time the scripts short (hold: reassure every 4 s, agent reminded
at 7 s, caller reconnected at 12 s; silent script: 2 s pauses).
"""

from __future__ import annotations

import asyncio
from typing import Any

from engine.store.queries import recent_calls
from engine.testcall import CallReport, place_call
from engine.testcall.agent import AgentAction, AgentEvent, SippAgent
from tests.pbx.conftest import Pbx
from tests.pbx.harness import hotline, wait_until
from tests.pbx.test_acd import add_agent, agent_states, wait_registered
from tests.pbx.test_call_journey import journaled_call
from tests.pbx.test_ivr import events


def phone(pbx: Pbx, creds: dict[str, Any], **kwargs: Any) -> SippAgent:
    return SippAgent(sip_user=creds["sip_user"], password=creds["password"], target_port=pbx.settings.pbx.sip_port,
                     answer_after_s=1.0, **kwargs)


async def sign_in(pbx: Pbx, *numbers: str) -> None:
    for number in numbers:
        await asyncio.to_thread(wait_registered, pbx, number)
        await asyncio.to_thread(hotline, pbx.config_file, "agent", "login", number)


async def call_agent_line(pbx: Pbx, caller: str, **kwargs: Any) -> CallReport:
    kwargs.setdefault("max_call_s", 75)
    kwargs.setdefault("keys", ["0"])
    return await place_call(target_port=pbx.settings.pbx.sip_port, dialed=pbx.settings.hotline_number,
                            caller_id=caller, **kwargs)


def prompts(evts: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [d["prompt"] for k, d in evts if k == "prompt.played"]


def test_softphone_hold_plays_the_hold_script_and_thanks_the_caller(pbx: Pbx) -> None:
    """The agent's hold button: the caller hears the hold prompt and reassurance, the agent a reminder
    past the target, and on resume the caller hears the thanks before the agent is back."""
    creds = add_agent(pbx, "2201")

    async def scenario() -> tuple[CallReport, SippAgent]:
        actions = [AgentAction(2.0, "hold"), AgentAction(11.0, "unhold")]
        async with phone(pbx, creds, hangup_after_s=17.0, actions=actions) as agent:
            await sign_in(pbx, "2201")
            report = await call_agent_line(pbx, "13500002201")
            return report, agent

    with pbx.controller():
        report, agent = asyncio.run(scenario())
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13500002201", "completed", timeout=30)
        evts = events(pbx, call.id)
    started = next(d for k, d in evts if k == "hold.started")
    ended = next(d for k, d in evts if k == "hold.ended")
    assert started == {"agent": "2201", "by": "softphone"}, started
    assert ended["why"] == "agent" and 8 <= ended["seconds"] <= 11, ended
    assert ended["reminded"] and ended["reassured"] >= 1, ended
    assert [k for k, _ in evts if k.startswith("hold.")].count("hold.reminded") == 1
    heard = prompts(evts)
    assert heard.index("hold-start") < heard.index("hold-reassure") < heard.index("hold-thanks"), heard
    assert heard[-1].startswith("farewell"), heard  # the agent hung up first: the closing line
    moves = [(a, b) for a, b, _ in agent_states(pbx, "2201")]
    assert ("on_call", "on_hold") in moves and ("on_hold", "on_call") in moves, moves
    assert report.audio.seconds > 20, report.audio


def test_hold_key_reconnects_at_the_limit_then_the_agent_transfers_by_key(pbx: Pbx) -> None:
    """*7 holds; nobody takes the caller back, so the limit does; then *9<work number># sends the caller
    to another agent, and the journey stays one call."""
    first, second = add_agent(pbx, "2202"), add_agent(pbx, "2203")

    async def scenario() -> CallReport:
        actions = [AgentAction(2.0, "keys", "*7"), AgentAction(19.0, "keys", "*92203#")]
        async with phone(pbx, first, actions=actions, calls=1) as one, phone(pbx, second, hangup_after_s=3.0) as two:
            await sign_in(pbx, "2202", "2203")  # in this order: 2202 has waited longest and gets the call
            report = await call_agent_line(pbx, "13500002202")
            assert one.calls_answered == 1 and two.calls_answered == 1
            # The caller is silent, so what the agent hears while holding is the reminder (target 7 s).
            reminder = [s for s in one.audio().segments if 8.0 <= s[0] <= 11.5]
            assert reminder and reminder[0][1] - reminder[0][0] > 1.0, one.audio().segments
            return report

    with pbx.controller():
        report = asyncio.run(scenario())
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13500002202", "completed", timeout=30)
        evts = events(pbx, call.id)
    ended = next(d for k, d in evts if k == "hold.ended")
    assert ended["why"] == "limit" and 11 <= ended["seconds"] <= 14, ended
    assert ("hold.started", {"agent": "2202", "by": "key"}) in evts
    transferred = next(d for k, d in evts if k == "call.transferred")
    assert transferred == {"from_agent": "2202", "to_queue": None, "to_agent": "2203", "by": "agent"}, transferred
    answered = [d["agent"] for k, d in evts if k == "queue.answered"]
    assert answered == ["2202", "2203"], answered


def test_silent_call_script_frees_the_agent_and_hangs_up_a_silent_caller(pbx: Pbx) -> None:
    """*81: the agent is free at once (no after-call work); the engine says greeting, greeting, goodbye
    with pauses and hangs up; the call's outcome is "silent", not abandoned."""
    creds = add_agent(pbx, "2204")

    async def scenario() -> CallReport:
        async with phone(pbx, creds, actions=[AgentAction(2.0, "keys", "*81")]) as agent:
            await sign_in(pbx, "2204")
            report = await call_agent_line(pbx, "13500002204")
            await agent.wait_for(AgentEvent.REMOTE_BYE)
            return report

    with pbx.controller():
        report = asyncio.run(scenario())
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13500002204", "silent", timeout=30)
        evts = events(pbx, call.id)
    assert ("silent.handover", {"agent": "2204", "variant": "silent", "by": "agent"}) in evts
    heard = prompts(evts)
    assert heard[-3:] == ["greeting", "greeting", "silent-goodbye"], heard
    assert "silent.requeued" not in [k for k, _ in evts]
    freed = [(a, b, r) for a, b, r in agent_states(pbx, "2204")]
    assert ("on_call", "available", "handed-to-script") in freed, freed


def test_a_caller_who_speaks_during_the_silent_script_goes_back_to_the_front(pbx: Pbx) -> None:
    """The caller speaks (SIPp plays speech) during the script: back to the queue, ahead of everyone,
    and the next free agent takes the call."""
    first, second = add_agent(pbx, "2205"), add_agent(pbx, "2206")

    async def scenario() -> CallReport:
        async with phone(pbx, first, actions=[AgentAction(2.0, "keys", "*81")], calls=1), \
                phone(pbx, second, hangup_after_s=3.0):
            await sign_in(pbx, "2205", "2206")
            # Speech starts about 13 s after the answer: a few seconds into the script.
            return await call_agent_line(pbx, "13500002205", speak=True, key_gap_s=11.0)

    with pbx.controller():
        report = asyncio.run(scenario())
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13500002205", "completed", timeout=30)
        evts = events(pbx, call.id)
    kinds = [k for k, _ in evts]
    assert "silent.speech_heard" in kinds and "silent.requeued" in kinds, kinds
    entered = [d for k, d in evts if k == "queue.entered"]
    assert entered[-1]["priority"] == 99, entered
    answered = [d["agent"] for k, d in evts if k == "queue.answered"]
    assert answered == ["2205", "2206"], answered


def test_a_supervisor_hands_a_noisy_line_to_the_script_from_the_cli(pbx: Pbx) -> None:
    """`hotline call silent REF --variant noisy`: the noisy-line goodbye, a pause, and the hang-up."""
    creds = add_agent(pbx, "2207")

    def talking_call() -> str:
        engine = pbx.journal()
        try:
            return next((c.call_uid for c in recent_calls(engine, 10)
                         if c.caller == "13500002207" and c.outcome is None), "")
        finally:
            engine.dispose()

    async def scenario() -> CallReport:
        async with phone(pbx, creds) as agent:
            await sign_in(pbx, "2207")
            caller = asyncio.create_task(call_agent_line(pbx, "13500002207"))
            await agent.wait_for(AgentEvent.ANSWERED, timeout_s=30)
            uid = await asyncio.to_thread(wait_until, talking_call, 10, "the live call")
            handed = await asyncio.to_thread(hotline, pbx.config_file, "call", "silent", uid, "--variant", "noisy")
            assert "handed to the noisy script" in handed.stdout, handed.stdout
            return await caller

    with pbx.controller():
        report = asyncio.run(scenario())
        assert report.answered and report.ended_by == "hotline", report
        call = journaled_call(pbx, "13500002207", "silent", timeout=30)
        evts = events(pbx, call.id)
    assert ("silent.handover", {"agent": "2207", "variant": "noisy", "by": "supervisor"}) in evts
    assert prompts(evts)[-1] == "noisy-goodbye", prompts(evts)


def test_a_queue_can_start_the_silent_script_by_itself(pbx: Pbx) -> None:
    """complaints with auto_silent_after_s 4: the caller says nothing after the agent answers, so the
    engine takes over without the agent pressing anything."""
    queues_file = pbx.settings.queues_path
    shipped = queues_file.read_text(encoding="utf-8")
    queues_file.write_text(shipped.replace("    skills: [complaints]\n",
                                           "    skills: [complaints]\n    auto_silent_after_s: 4\n"), encoding="utf-8")
    creds = add_agent(pbx, "2208", skills="complaints")

    async def scenario() -> CallReport:
        async with phone(pbx, creds):
            await sign_in(pbx, "2208")
            return await place_call(target_port=pbx.settings.pbx.sip_port, dialed=pbx.settings.hotline_number,
                                    caller_id="13500002208", keys=["3"], max_call_s=75)

    try:
        with pbx.controller():
            report = asyncio.run(scenario())
            assert report.answered and report.ended_by == "hotline", report
            call = journaled_call(pbx, "13500002208", "silent", timeout=30)
            evts = events(pbx, call.id)
    finally:
        queues_file.write_text(shipped, encoding="utf-8")
    assert ("silent.handover", {"agent": "2208", "variant": "silent", "by": "auto"}) in evts
    assert prompts(evts)[-3:] == ["greeting", "greeting", "silent-goodbye"], prompts(evts)


def test_a_caller_past_the_maximum_wait_chooses_to_keep_waiting_and_is_served(pbx: Pbx) -> None:
    """general with max_wait_s 8 and its only agent busy: the second caller hears the choices after 8 s
    (message, callback, keep waiting), presses 3, keeps their place and is served once the agent is free."""
    queues_file = pbx.settings.queues_path
    shipped = queues_file.read_text(encoding="utf-8")
    queues_file.write_text(shipped.replace("    skills: [general]\n", "    skills: [general]\n    max_wait_s: 8\n"),
                           encoding="utf-8")
    creds = add_agent(pbx, "2209")

    async def scenario() -> tuple[CallReport, CallReport]:
        async with phone(pbx, creds, hangup_after_s=18.0) as agent:
            await sign_in(pbx, "2209")
            first = asyncio.create_task(call_agent_line(pbx, "13500002291"))
            await agent.wait_for(AgentEvent.ANSWERED, timeout_s=30)
            # Queued ~7 s after the answer, choices at ~15 s: 3 pressed at ~17 s; the agent is free at ~20 s.
            second = await call_agent_line(pbx, "13500002292", keys=["0", "3"], key_gap_s=15.5)
            return await first, second

    try:
        with pbx.controller():
            first, second = asyncio.run(scenario())
            assert first.answered and second.answered and second.ended_by == "hotline", second
            call = journaled_call(pbx, "13500002292", "completed", timeout=30)
            evts = events(pbx, call.id)
    finally:
        queues_file.write_text(shipped, encoding="utf-8")
    left = next(d for k, d in evts if k == "queue.left")
    assert left["why"] == "max wait", left
    assert ("queue.offer", {"queue": "general", "choice": "3"}) in evts
    assert "offer-callback-wait" in prompts(evts)
    assert ("queue.answered", {"agent": "2209"}) in evts
