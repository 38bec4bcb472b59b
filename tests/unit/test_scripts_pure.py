"""The scripts' pure parts: hold timeline, silent-call steps and runner (fake line, fake clock), the
agent's in-call keys, the farewell choice, and an agent freed without wrap-up."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from acd.model import AgentId, AgentState, AgentStatus, CallUid
from acd.state import AcwPolicy, CallFinished, Pause, Resume, SignOut, transition
from engine.queueing.agent_keys import HandToScript, InCallKeys, ToggleHold, TransferTo, Unknown
from engine.scripts.farewell import farewell_prompt
from engine.scripts.hold import HoldProgress, HoldStep, HoldTimings, next_hold_step
from engine.scripts.silent_call import HangUp, Listen, Say, SilentVariant, run_script, script_steps

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


# -- hold ----------------------------------------------------------------------------------------------
def walk_hold(timings: HoldTimings) -> list[tuple[HoldStep, float]]:
    progress, steps = HoldProgress(), []
    while True:
        step, at = next_hold_step(progress, timings)
        steps.append((step, at))
        if step is HoldStep.RECONNECT:
            return steps
        progress = progress.after(step)


def test_hold_reassures_reminds_once_and_reconnects_at_the_limit() -> None:
    assert walk_hold(HoldTimings(reassure_every_s=30, target_s=60, limit_s=100)) == [
        (HoldStep.REASSURE, 30), (HoldStep.REMIND_AGENT, 60), (HoldStep.REASSURE, 60),
        (HoldStep.REASSURE, 90), (HoldStep.RECONNECT, 100)]


def test_reconnect_wins_a_tie_and_a_target_past_the_limit_never_reminds() -> None:
    assert walk_hold(HoldTimings(reassure_every_s=50, target_s=200, limit_s=100)) == [
        (HoldStep.REASSURE, 50), (HoldStep.RECONNECT, 100)]


# -- silent-call script --------------------------------------------------------------------------------
class FakeLine:
    """Says and listens on a fake clock; the caller speaks at ``speaks_at`` seconds (None: never)."""

    def __init__(self, speaks_at: float | None = None, prompt_s: float = 3.0) -> None:
        self.now = 0.0
        self.speaks_at = speaks_at
        self.prompt_s = prompt_s
        self.log: list[str] = []

    def _pass(self, seconds: float, for_speech: bool) -> bool:
        start, self.now = self.now, self.now + seconds
        return for_speech and self.speaks_at is not None and start <= self.speaks_at < self.now

    async def say(self, prompt: str, for_speech: bool) -> bool:
        self.log.append(f"say {prompt}")
        return self._pass(self.prompt_s, for_speech)

    async def listen(self, seconds: float, for_speech: bool) -> bool:
        self.log.append(f"listen {seconds:g}")
        return self._pass(seconds, for_speech)

    async def hang_up(self) -> None:
        self.log.append("hang up")


def test_silent_script_is_the_manuals_sequence() -> None:
    assert script_steps(SilentVariant.SILENT) == [Say("greeting"), Listen(5), Say("greeting"), Listen(5),
                                                  Say("silent-goodbye"), Listen(5), HangUp()]
    assert script_steps(SilentVariant.LOW_VOLUME, 2)[0] == Say("louder-please")
    assert script_steps(SilentVariant.NOISY) == [Say("noisy-goodbye"), Listen(5, for_speech=False), HangUp()]


def test_a_silent_caller_is_hung_up_after_three_prompts_and_three_waits() -> None:
    line = FakeLine()
    result = asyncio.run(run_script(line, script_steps(SilentVariant.SILENT)))
    assert not result.spoke and line.log[-1] == "hang up" and line.now == 3 * 3 + 3 * 5


def test_speech_during_a_wait_or_a_prompt_ends_the_script_at_once() -> None:
    in_wait = FakeLine(speaks_at=12.0)  # during the second wait (11..16 s)
    result = asyncio.run(run_script(in_wait, script_steps(SilentVariant.SILENT)))
    assert result.spoke and result.steps == 4 and "hang up" not in in_wait.log
    in_goodbye = FakeLine(speaks_at=17.0)  # while the goodbye plays (16..19 s): still there, so re-queue
    assert asyncio.run(run_script(in_goodbye, script_steps(SilentVariant.SILENT))).spoke


def test_a_resumed_script_goes_on_from_its_step_and_reports_each_step_before_it_begins() -> None:
    """A controller restarted during the script (the caller's position says step 4, the goodbye) says the
    goodbye, waits and hangs up: the greetings are not said again; each step is reported for the position."""
    line, told = FakeLine(), []

    async def at_step(step: int) -> None:
        told.append(step)

    result = asyncio.run(run_script(line, script_steps(SilentVariant.SILENT), start=4, on_step=at_step))
    assert line.log == ["say silent-goodbye", "listen 5", "hang up"] and told == [4, 5, 6]
    assert not result.spoke and result.steps == 7
    first, told = FakeLine(), []
    asyncio.run(run_script(first, script_steps(SilentVariant.SILENT), on_step=at_step))
    assert told == list(range(7))
    beyond = FakeLine()  # a position from a longer script of another version: at least the hang-up
    asyncio.run(run_script(beyond, script_steps(SilentVariant.NOISY), start=9))
    assert beyond.log == ["hang up"]


def test_the_noisy_line_variant_does_not_take_noise_for_speech() -> None:
    line = FakeLine(speaks_at=1.0)
    result = asyncio.run(run_script(line, script_steps(SilentVariant.NOISY)))
    assert not result.spoke and line.log == ["say noisy-goodbye", "listen 5", "hang up"]


# -- in-call keys ---------------------------------------------------------------------------------------
def feed(keys: InCallKeys, text: str, at: float = 0.0, gap: float = 0.3) -> list[object]:
    out = []
    for i, key in enumerate(text):
        command = keys.feed(key, at + i * gap)
        if command is not None:
            out.append(command)
    return out


def test_in_call_codes() -> None:
    keys = InCallKeys()
    assert feed(keys, "*7") == [ToggleHold()]
    assert feed(keys, "*81*82*83") == [HandToScript(SilentVariant.SILENT), HandToScript(SilentVariant.LOW_VOLUME),
                                       HandToScript(SilentVariant.NOISY)]
    assert feed(keys, "*92203#") == [TransferTo("2203")]
    assert feed(keys, "12#*5") == [Unknown("*5")]  # keys outside a sequence are the caller's business
    assert feed(keys, "*9#") == [Unknown("*9#")]


def test_an_unfinished_sequence_is_forgotten_after_the_timeout() -> None:
    keys = InCallKeys(timeout_s=4)
    assert keys.feed("*", 0.0) is None and keys.feed("9", 1.0) is None
    assert keys.feed("*", 10.0) is None  # the old "*9" expired: this "*" starts afresh
    assert keys.feed("7", 10.5) == ToggleHold()


# -- farewell and wrap-up ------------------------------------------------------------------------------
def test_farewell_by_weekday_weekend_and_holiday() -> None:
    monday, saturday = datetime(2026, 11, 23, 9), datetime(2026, 11, 28, 9)
    assert farewell_prompt(monday, holiday=False) == "farewell"
    assert farewell_prompt(saturday, holiday=False) == "farewell-weekend"
    assert farewell_prompt(saturday, holiday=True) == "farewell-holiday"


def test_an_agent_who_hands_over_a_silent_caller_is_free_at_once() -> None:
    on_call = AgentStatus(agent=AgentId("2001"), state=AgentState.ON_CALL, since=T0, registered=True,
                          call=CallUid("c1"))
    later = T0 + timedelta(seconds=30)
    freed = transition(on_call, CallFinished(CallUid("c1"), wrap_up=False), later, AcwPolicy(acw_seconds=60))
    assert freed.status.state is AgentState.AVAILABLE and freed.status.idle_since == later
    assert [c.reason for c in freed.changes] == ["handed-to-script"]
    wrapped = transition(on_call, CallFinished(CallUid("c1")), later, AcwPolicy(acw_seconds=60))
    assert wrapped.status.state is AgentState.AFTER_CALL_WORK


def test_a_sign_out_pending_through_a_wrap_up_pause_applies_on_resume() -> None:
    """Never stuck: signed out on a call, paused during after-call work, resumed → signed out."""
    status = AgentStatus(agent=AgentId("2001"), state=AgentState.ON_CALL, since=T0, registered=True,
                         call=CallUid("c1"))
    policy = AcwPolicy(acw_seconds=60)
    for event in (SignOut(), CallFinished(CallUid("c1")), Pause("lunch"), Resume()):
        status = transition(status, event, T0, policy).status
    assert status.state is AgentState.LOGGED_OUT and not status.pending_sign_out
