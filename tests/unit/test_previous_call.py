"""Repeat callers: the journal tells when a caller last called (their queue priority depends on it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

from engine.store.database import make_engine
from engine.store.migrate import upgrade
from engine.store.queries import previous_call_at
from engine.store.tables import calls


def test_previous_call_of_the_same_caller(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        earlier = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
        with engine.begin() as conn:
            conn.execute(insert(calls), [
                {"call_uid": "a", "caller": "13800138000", "source": "controller", "started_at": earlier},
                {"call_uid": "b", "caller": "13800138000", "source": "controller",
                 "started_at": datetime(2026, 11, 23, 9, 0, tzinfo=UTC)},
                {"call_uid": "c", "caller": "13900000000", "source": "controller", "started_at": earlier},
            ])
        assert previous_call_at(engine, "13800138000", "b") == earlier
        assert previous_call_at(engine, "13700000000", "x") is None
        assert previous_call_at(engine, "", "x") is None
    finally:
        engine.dispose()
