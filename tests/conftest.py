"""Session fixtures: one real Asterisk per test session (PBX and chaos tests), reset between tests; the order
in which modules are handed to the parallel workers.

`make test` runs pytest-xdist with three workers (pyproject addopts). Each worker is its own session: its own
Asterisk instance (named after the worker's pid), data folder and journal under the worker's temporary folder,
free ports, and its own PostgreSQL servers (tests/postgres/conftest.py), so a chaos test that kills, restarts,
stops or fills something only touches its worker's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.pbx.session import Pbx, start_session_pbx

TESTS = Path(__file__).resolve().parent
# The modules that take longest (4 to 6.5 minutes each with three workers, their real-time calls one after
# another), handed out first: the workers then end together on the quick modules instead of one worker
# running a long module alone at the end (`--dist loadfile` hands out modules in collection order).
SLOW_MODULES_FIRST = ("pbx/test_ivr.py", "pbx/test_scripts.py", "pbx/test_acd.py", "pbx/test_reports.py",
                      "pbx/test_acd_more.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(SLOW_MODULES_FIRST)}

    def place(item: pytest.Item) -> int:
        try:
            return rank.get(item.path.relative_to(TESTS).as_posix(), len(rank))
        except ValueError:
            return len(rank)

    items.sort(key=place)  # stable: every other module, and the tests in each, keep their order


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
