"""Turn prompt texts into 8 kHz mono sound files with espeak-ng and sox, inside the PBX sounds folder.

A file an operator dropped in (any format Asterisk plays) is never overwritten: only missing prompts are
rendered. Mandarin files go to ``sounds/zh/hotline/``, English ones to ``sounds/en/hotline/``; Asterisk
falls back to English when a Mandarin file is missing.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from engine.errors import PbxNotInstalled
from engine.prompts.catalog import PROMPTS, Prompt

log = logging.getLogger(__name__)
VOICES = {"zh": "cmn", "en": "en"}
PLAYABLE = (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".g722")


PromptDir = Callable[[str], Path]


def has_prompt(prompt_dir: PromptDir, language: str, name: str) -> bool:
    folder = prompt_dir(language)
    return any((folder / f"{name}{ext}").exists() for ext in PLAYABLE)


def render_prompt(text: str, language: str, target: Path) -> None:
    """Speak ``text`` into ``target`` (.wav, 8 kHz, mono, 16 bit)."""
    for tool, package in (("espeak-ng", "espeak-ng"), ("sox", "sox")):
        if shutil.which(tool) is None:
            raise PbxNotInstalled(f"{tool} is not installed: apt-get install {package}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-v", VOICES[language], "-s", "150", "-w", str(raw), text],
                       check=True, capture_output=True)
        subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(target)],
                       check=True, capture_output=True)


def build_prompts(prompt_dir: PromptDir, prompts: tuple[Prompt, ...] = PROMPTS) -> list[Path]:
    """Render every missing prompt in both languages; return the files written.

    Flow prompts are added by the callers that know the flows (``engine.ivr.prompts.flow_prompts``).
    """
    written: list[Path] = []
    for prompt in prompts:
        for language in ("zh", "en"):
            if has_prompt(prompt_dir, language, prompt.name):
                continue
            target = prompt_dir(language) / f"{prompt.name}.wav"
            render_prompt(prompt.text(language), language, target)
            log.info("rendered prompt %s (%s)", prompt.name, language)
            written.append(target)
    return written
