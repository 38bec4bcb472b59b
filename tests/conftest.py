"""Session fixtures: one real Asterisk for the whole test session (PBX and chaos tests), reset between tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pbx.session import Pbx, start_session_pbx


@pytest.fixture(scope="session")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pbx]:
    yield from start_session_pbx(tmp_path_factory)


@pytest.fixture(autouse=True)
def clean_pbx(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every PBX test starts and ends with no channels left over."""
    yield
    if "pbx" in request.fixturenames:
        pbx: Pbx = request.getfixturevalue("pbx")
        if pbx.control.is_running():
            pbx.control.cli("channel request hangup all")
