"""The foundation's call flow: answer, greet by time of day, say goodbye. The IVR issue replaces it."""

from __future__ import annotations

from datetime import datetime, tzinfo

from engine.call_session import CallSession


def greeting_prompt(now: datetime, tz: tzinfo | None = None) -> str:
    """"早上好" before noon (local time), the plain greeting otherwise (shared/HOTLINE_RULES.md)."""
    local = now.astimezone(tz)
    return "greeting-morning" if local.hour < 12 else "greeting"


async def greeting_flow(call: CallSession) -> None:
    await call.answer()
    await call.play(greeting_prompt(call.clock.now()))
    await call.play("goodbye")
