"""Incident announcements: the CLI (start renders the prompt, list counts listeners, stop) and the board."""

from __future__ import annotations

import json
import logging
import wave
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, insert

from engine.cli.main import cli
from engine.incidents import IncidentBoard, start_incident, stop_incident
from engine.pbx.layout import InstanceDirs, PbxLayout
from engine.store.database import make_engine
from engine.store.migrate import upgrade
from engine.store.tables import call_events, calls

NOW = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
TEXT = "因光缆故障,部分地区宽带业务中断,预计今天十八点前恢复,请您错峰来电。"


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.pbx_root = tmp_path / "pbx"
        self.pbx_root.mkdir()
        self.env = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(tmp_path / "data"),
                    "HOTLINE_PBX_ROOT": str(self.pbx_root)}
        self.layout = PbxLayout(root=self.pbx_root, dirs=InstanceDirs.for_instance("hotline"))

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        return result.exit_code, result.output

    def engine(self) -> Engine:
        return make_engine(f"sqlite:///{self.env['HOTLINE_DATA_DIR']}/hotline.db")


@pytest.fixture
def env(tmp_path: Path) -> Env:
    env = Env(tmp_path)
    assert env.run("db", "upgrade")[0] == 0
    return env


def heard(engine: Engine, call_uid: str, incident: object) -> None:
    with engine.begin() as connection:
        call_id = connection.execute(
            insert(calls).values(call_uid=call_uid, source="controller", started_at=NOW).returning(calls.c.id)
        ).scalar_one()
        connection.execute(insert(call_events).values(call_id=call_id, seq=1, at=NOW, kind="incident.heard",
                                                      data={"incident": incident}))
        connection.execute(insert(call_events).values(call_id=call_id, seq=2, at=NOW, kind="incident.heard",
                                                      data={"incident": incident}))


def test_start_renders_the_announcement_and_lists_it(env: Env) -> None:
    until = (datetime.now() + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M")
    code, out = env.run("incident", "start", "--text", TEXT, "--nodes", "main_menu, self_service",
                        "--until", until)
    assert (code, out.strip()) == (0, "1")
    for language in ("zh", "en"):
        path = env.layout.prompt_dir(language) / "incident-1.wav"
        with wave.open(str(path)) as audio:
            assert audio.getframerate() == 8000 and audio.getnframes() > 8000
    assert [p.name for p in env.layout.prompt_dir("zh").iterdir()] == ["incident-1.wav"]

    code, out = env.run("incident", "list", "--json")
    assert code == 0
    [row] = json.loads(out)
    assert (row["id"], row["text"], row["nodes"], row["prompt"], row["heard"]) == (
        1, TEXT, ["main_menu", "self_service"], "incident-1", 0)
    assert row["until"].startswith(str(datetime.fromisoformat(until).astimezone(UTC).date()))
    assert row["stopped_at"] is None

    code, out = env.run("incident", "list")
    assert code == 0 and "main_menu,self_service" in out and TEXT in out


def test_english_text_gets_its_own_recording(env: Env) -> None:
    code, _ = env.run("incident", "start", "--text", TEXT, "--nodes", "main_menu",
                      "--text-en", "A fibre cut interrupts broadband in some areas.")
    assert code == 0
    zh = (env.layout.prompt_dir("zh") / "incident-1.wav").read_bytes()
    en = (env.layout.prompt_dir("en") / "incident-1.wav").read_bytes()
    assert zh != en


def test_list_counts_calls_that_heard_it(env: Env) -> None:
    assert env.run("incident", "start", "--text", TEXT, "--nodes", "main_menu")[0] == 0
    assert env.run("incident", "start", "--text", "第二条通告", "--nodes", "self_service")[0] == 0
    engine = env.engine()
    heard(engine, "1.1", 1)
    heard(engine, "1.2", 1)
    heard(engine, "1.3", "1")  # an id journaled as text still counts
    heard(engine, "1.4", 2)
    engine.dispose()
    code, out = env.run("incident", "list", "--json")
    assert code == 0
    assert {row["id"]: row["heard"] for row in json.loads(out)} == {1: 3, 2: 1}


def test_stop_and_list_all(env: Env) -> None:
    assert env.run("incident", "start", "--text", TEXT, "--nodes", "main_menu")[0] == 0
    assert env.run("incident", "stop", "1") == (0, "incident 1 stopped\n")
    assert json.loads(env.run("incident", "list", "--json")[1]) == []
    [row] = json.loads(env.run("incident", "list", "--all", "--json")[1])
    assert row["id"] == 1 and row["stopped_at"] is not None

    code, out = env.run("incident", "stop", "1")
    assert code == 1 and out.startswith("error: incident 1 was already stopped")
    code, out = env.run("incident", "stop", "99")
    assert (code, out) == (1, "error: no incident 99\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--text", TEXT, "--nodes", " , "], "error: name at least one IVR node"),
        (["--text", TEXT, "--nodes", "main menu"], "error: 'main menu' is not an IVR node name"),
        (["--text", "  ", "--nodes", "main_menu"], "error: the announcement text is empty"),
        (["--text", TEXT, "--nodes", "main_menu", "--until", "2020-01-01 08:00"], "error: --until 2020-01-01"),
        (["--text", TEXT, "--nodes", "main_menu", "--until", "tomorrow"], "error: --until 'tomorrow' is not"),
    ],
)
def test_bad_start_changes_nothing(env: Env, args: list[str], message: str) -> None:
    code, out = env.run("incident", "start", *args)
    assert code == 1 and out.startswith(message)
    assert json.loads(env.run("incident", "list", "--all", "--json")[1]) == []
    assert not env.layout.prompt_dir("zh").exists()


def test_missing_pbx_root_exits_3(env: Env) -> None:
    env.pbx_root.rmdir()
    code, out = env.run("incident", "start", "--text", TEXT, "--nodes", "main_menu")
    assert code == 3 and "hotline pbx install" in out


# --- the board the IVR runner asks ---------------------------------------------------------------------------

@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_board_serves_active_incidents_by_node(engine: Engine, tmp_path: Path) -> None:
    def prompt_dir(language: str) -> Path:
        return tmp_path / language

    first = start_incident(engine, prompt_dir, text=TEXT, nodes=["main_menu", "self_service"], now=NOW)
    timed = start_incident(engine, prompt_dir, text="限时通告", nodes=["main_menu"], now=NOW,
                           until=NOW + timedelta(hours=1))
    stopped = start_incident(engine, prompt_dir, text="已结束", nodes=["main_menu"], now=NOW)
    stop_incident(engine, stopped, NOW)

    board = IncidentBoard()
    assert board.active_for("main_menu", NOW) == []
    board.refresh(engine, NOW + timedelta(minutes=1))
    assert [(i.id, i.prompt) for i in board.active_for("main_menu", NOW)] == [
        (first, f"incident-{first}"), (timed, f"incident-{timed}")]
    assert [i.id for i in board.active_for("self_service", NOW)] == [first]
    assert board.active_for("queue", NOW) == []
    # Expiry is honoured between refreshes.
    assert [i.id for i in board.active_for("main_menu", NOW + timedelta(hours=2))] == [first]
    board.refresh(engine, NOW + timedelta(hours=2))
    assert [i.id for i in board.active_for("main_menu", NOW + timedelta(hours=2))] == [first]


def test_board_keeps_its_snapshot_when_the_database_fails(
    engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    start_incident(engine, lambda language: tmp_path / language, text=TEXT, nodes=["main_menu"], now=NOW)
    board = IncidentBoard()
    board.refresh(engine, NOW)
    gone = make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    with caplog.at_level(logging.WARNING, logger="engine.incidents"):
        board.refresh(gone, NOW)
        board.refresh(gone, NOW)
    gone.dispose()
    assert len([r for r in caplog.records if r.name == "engine.incidents"]) == 1
    assert [i.id for i in board.active_for("main_menu", NOW)] == [1]


def test_failed_render_records_nothing(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from engine import incidents
    from engine.errors import PbxNotInstalled

    def missing_tool(*_args: object) -> None:
        raise PbxNotInstalled("espeak-ng is not installed: apt-get install espeak-ng")

    monkeypatch.setattr(incidents, "render_prompt", missing_tool)
    with pytest.raises(PbxNotInstalled):
        start_incident(engine, lambda language: tmp_path / language, text=TEXT, nodes=["main_menu"], now=NOW)
    board = IncidentBoard()
    board.refresh(engine, NOW)
    assert board.active_for("main_menu", NOW) == []
