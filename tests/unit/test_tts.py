"""On-the-fly speech: rendered once into <prompt dir>/tts/<hash>.wav, reused after, safe when concurrent."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.prompts import tts
from engine.prompts.tts import prompt_name, synthesize

TEXT = "您的余额为一百二十三元四角五分"


def folders(root: Path) -> Callable[[str], Path]:
    return lambda language: root / language / "hotline"


def test_renders_an_8khz_mono_file_named_by_hash(tmp_path: Path) -> None:
    name = asyncio.run(synthesize(TEXT, "zh", folders(tmp_path)))
    assert name == prompt_name(TEXT)
    assert name.startswith("tts/") and len(name) == len("tts/") + 16
    path = tmp_path / "zh" / "hotline" / f"{name}.wav"
    with wave.open(str(path)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert audio.getnframes() > 8000  # more than a second of speech
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def test_cache_hit_runs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = asyncio.run(synthesize(TEXT, "zh", folders(tmp_path)))

    def no_subprocess(*_args: object) -> None:
        raise AssertionError("a cached text must not be rendered again")

    monkeypatch.setattr(tts, "render_prompt", no_subprocess)
    assert asyncio.run(synthesize(TEXT, "zh", folders(tmp_path))) == first


def test_concurrent_calls_for_the_same_text_leave_one_whole_file(tmp_path: Path) -> None:
    async def main() -> list[str]:
        return list(await asyncio.gather(*(synthesize(TEXT, "zh", folders(tmp_path)) for _ in range(4))))

    names = asyncio.run(main())
    assert len(set(names)) == 1
    files = list((tmp_path / "zh" / "hotline" / "tts").iterdir())
    assert [f.name for f in files] == [f"{names[0].removeprefix('tts/')}.wav"]
    with wave.open(str(files[0])) as audio:
        assert audio.getnframes() > 8000


def test_languages_have_their_own_folders(tmp_path: Path) -> None:
    name = asyncio.run(synthesize("Your balance is 12 yuan", "en", folders(tmp_path)))
    assert (tmp_path / "en" / "hotline" / f"{name}.wav").exists()
    assert not (tmp_path / "zh").exists()


def test_failed_render_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def half_written(_text: str, _language: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"RIFF")
        raise OSError("disk full")

    monkeypatch.setattr(tts, "render_prompt", half_written)
    with pytest.raises(OSError, match="disk full"):
        asyncio.run(synthesize(TEXT, "zh", folders(tmp_path)))
    assert list((tmp_path / "zh" / "hotline" / "tts").iterdir()) == []


def test_empty_text_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        asyncio.run(synthesize("  ", "zh", folders(tmp_path)))
