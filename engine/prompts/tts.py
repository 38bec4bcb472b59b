"""Speech for values only known during a call (a balance, an order status), cached by the text's hash.

``synthesize`` renders the text with espeak-ng + sox (engine.prompts.build.render_prompt, in a worker
thread so the event loop keeps serving other calls) into ``<prompt dir>/tts/<sha1[:16]>.wav`` and returns
the prompt name ``tts/<hash>``, played as ``sound:hotline/tts/<hash>``. A file already there is reused
without running anything. Two calls rendering the same text at once each write a private temporary file
and rename it into place; a rename is atomic, so Asterisk never plays a half-written file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Final

from engine.prompts.build import render_prompt

TTS_FOLDER: Final = "tts"


def prompt_name(text: str) -> str:
    """The prompt name ``text`` is cached under (the same in every language folder)."""
    return f"{TTS_FOLDER}/{hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]}"


async def synthesize(text: str, language: str, prompt_dir: Callable[[str], Path]) -> str:
    """Make sure ``text`` is rendered for ``language`` and return its prompt name.

    Raises PbxNotInstalled when espeak-ng or sox is missing, subprocess.CalledProcessError when they fail,
    OSError when the folder cannot be written; nothing is left behind in those cases.
    """
    if not text.strip():
        raise ValueError("nothing to synthesize")
    name = prompt_name(text)
    target = prompt_dir(language) / f"{name}.wav"
    if target.exists():
        return name
    # The whole render-and-rename runs in the thread: if the caller hangs up meanwhile, the thread still
    # finishes cleanly (and the next caller gets the cached file) instead of leaving a partial file behind.
    await asyncio.to_thread(_render_atomically, text, language, target)
    return name


def _render_atomically(text: str, language: str, target: Path) -> None:
    # The temporary name keeps the .wav suffix: sox picks the output format from it.
    partial = target.with_name(f".{target.stem}.{uuid.uuid4().hex}.wav")
    try:
        render_prompt(text, language, partial)
        os.replace(partial, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
