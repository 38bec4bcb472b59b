"""The silent-call script (无声电话) and its low-volume and noisy-line variants, as steps and a runner.

The source manual makes agents say it by heart: greeting, wait 5 s, greeting again, wait 5 s, the
goodbye ("请您换一部电话打来"), wait 5 s, hang up. Here the engine says it, so the agent is freed at once.
A caller heard speaking during a listening step goes back to the front of the queue (``spoke``); the
noisy-line variant does not listen for speech, since its noise is what talk detection would hear.
The runner takes a ``ScriptLine`` port: the PBX implements it with talk detection, tests with a fake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class SilentVariant(StrEnum):
    SILENT = "silent"
    LOW_VOLUME = "low_volume"
    NOISY = "noisy"


@dataclass(frozen=True)
class Say:
    prompt: str


@dataclass(frozen=True)
class Listen:
    seconds: float
    for_speech: bool = True


@dataclass(frozen=True)
class HangUp:
    pass


Step = Say | Listen | HangUp


def script_steps(variant: SilentVariant, wait_s: float = 5.0) -> list[Step]:
    """The steps of one variant; prompt names are those of the prompt catalog."""
    match variant:
        case SilentVariant.NOISY:
            return [Say("noisy-goodbye"), Listen(wait_s, for_speech=False), HangUp()]
        case SilentVariant.LOW_VOLUME:
            ask = "louder-please"
        case _:
            ask = "greeting"
    return [Say(ask), Listen(wait_s), Say(ask), Listen(wait_s), Say("silent-goodbye"), Listen(wait_s), HangUp()]


class ScriptLine(Protocol):
    """The caller's line as the script uses it. Both return True when the caller was heard speaking."""

    async def say(self, prompt: str, for_speech: bool) -> bool: ...

    async def listen(self, seconds: float, for_speech: bool) -> bool: ...

    async def hang_up(self) -> None: ...


@dataclass(frozen=True)
class ScriptResult:
    """``spoke``: the caller spoke (re-queue them); otherwise the script hung up after ``steps`` steps."""

    spoke: bool
    steps: int


async def run_script(line: ScriptLine, steps: list[Step], start: int = 0,
                     on_step: Callable[[int], Awaitable[None]] | None = None) -> ScriptResult:
    """Run ``steps`` from index ``start`` (a caller resumed after a controller restart goes on where the
    script was); ``on_step`` is told each step's index before it begins (to write the caller's position)."""
    # Speech counts until the hang-up, even after the goodbye: a caller heard at all is still there.
    for_speech = all(not isinstance(s, Listen) or s.for_speech for s in steps)
    start = min(max(0, start), len(steps) - 1)
    for done, step in enumerate(steps[start:], start=start + 1):
        if on_step is not None:
            await on_step(done - 1)
        match step:
            case Say(prompt=prompt):
                if await line.say(prompt, for_speech=for_speech):
                    return ScriptResult(spoke=True, steps=done)
            case Listen(seconds=seconds):
                if await line.listen(seconds, for_speech=for_speech):
                    return ScriptResult(spoke=True, steps=done)
            case HangUp():
                await line.hang_up()
                return ScriptResult(spoke=False, steps=done)
    return ScriptResult(spoke=False, steps=len(steps))
