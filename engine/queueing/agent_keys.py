"""Keys an agent presses during a call (on the softphone's keypad), read into commands.

    *7            hold the caller / take them back (for phones without a hold button)
    *81 *82 *83   hand the caller to the silent-call script: silent, low volume, noisy line
    *9 digits #   blind transfer: to the agent with that work number, or the queue with that transfer code

Sequences start with ``*``; other keys are ignored (the caller hears them as tones anyway). A started
sequence that is not finished within ``timeout_s`` is forgotten, so a stray ``*`` never eats later keys.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.scripts.silent_call import SilentVariant


@dataclass(frozen=True)
class ToggleHold:
    pass


@dataclass(frozen=True)
class HandToScript:
    variant: SilentVariant


@dataclass(frozen=True)
class TransferTo:
    digits: str


@dataclass(frozen=True)
class Unknown:
    keys: str


Command = ToggleHold | HandToScript | TransferTo | Unknown
SCRIPTS = {"1": SilentVariant.SILENT, "2": SilentVariant.LOW_VOLUME, "3": SilentVariant.NOISY}


class InCallKeys:
    """Feed keys one by one with their time (seconds, any monotonic origin); a command when complete."""

    def __init__(self, timeout_s: float = 4.0) -> None:
        self.timeout_s = timeout_s
        self.keys = ""
        self.last_at = 0.0

    def feed(self, key: str, at: float) -> Command | None:
        if self.keys and at - self.last_at > self.timeout_s:
            self.keys = ""
        self.last_at = at
        if not self.keys:
            self.keys = "*" if key == "*" else ""
            return None
        self.keys += key
        command = _read(self.keys)
        if command is not None:
            self.keys = ""
        return command


def _read(keys: str) -> Command | None:
    """The command ``keys`` (starting with *) spell, None while more keys are needed."""
    body = keys[1:]
    if body == "7":
        return ToggleHold()
    if body == "8":
        return None
    if body.startswith("8"):
        variant = SCRIPTS.get(body[1:])
        return HandToScript(variant) if variant is not None else Unknown(keys)
    if body.startswith("9"):
        if not body.endswith("#"):
            return None if body[1:].isdigit() or body == "9" else Unknown(keys)
        digits = body[1:-1]
        return TransferTo(digits) if digits.isdigit() else Unknown(keys)
    return Unknown(keys)
