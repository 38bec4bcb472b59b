"""A PostgreSQL server the chaos tests may stop and start (the journal outage test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.postgres.conftest import ThrowawayPostgres, _skip_reason


@pytest.fixture
def stoppable_postgres() -> Iterator[ThrowawayPostgres]:
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(reason)
    server = ThrowawayPostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()
