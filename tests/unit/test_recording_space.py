"""The full-disk rules for recordings (engine.recording_space)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import recording_space


@pytest.mark.parametrize(("recorded_s", "talk_s", "cut"), [
    (8.0, 9.5, False),     # the recording starts a moment after the answer
    (1.5, 8.0, True),      # the disk filled after 1.5 s
    (260.0, 300.0, True),  # 40 s missing of 5 min: more than 10 %
    (280.0, 300.0, False),
])
def test_a_recording_is_cut_short_when_it_misses_more_than_2_s_and_10_percent(
        recorded_s: float, talk_s: float, cut: bool) -> None:
    assert recording_space.cut_short(recorded_s, talk_s) is cut


def test_a_folder_with_room_is_not_refused_and_a_missing_one_is(tmp_path: Path) -> None:
    assert recording_space.refusal(tmp_path) is None
    why = recording_space.refusal(tmp_path / "gone")
    assert why is not None and why.startswith("disk full: 0 KiB free")
