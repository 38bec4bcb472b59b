"""`hotline report`, `hotline calls` and `call show` on a SQLite journal written by the real journal writer.

The journal is test_report_kpis's hand-built day; the writer fills ``calls.disposition`` when each call
ends, and the report must print the figures computed by hand there. Bad input is one ``error:`` line with
exit 2; the chart is a PNG of the documented size. Migration 0009 gives calls journaled before it a
disposition too.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import text

from engine.cli.main import cli
from engine.reports.charts import DPI, HEIGHT_IN, WIDTH_IN
from engine.store.migrate import alembic_config, upgrade
from tests.journal_checks import reading, write
from tests.unit.test_report_kpis import EXPECTED, EXPECTED_DISPOSITIONS, JOURNAL


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("report")
    data_dir = root / "data"
    url = f"sqlite:///{data_dir / 'hotline.db'}"
    upgrade(url)
    write(url, root / "spill.jsonl", JOURNAL)
    return {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_TIMEZONE": "Asia/Shanghai",
            "HOTLINE_PBX_ROOT": str(root / "root")}


def hotline(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_json_report_is_the_hand_computation(journal: dict[str, str]) -> None:
    result = hotline(journal, "report", "--from", "2026-11-23", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["totals"] == {**data["totals"], **EXPECTED}
    assert data["dispositions"] == EXPECTED_DISPOSITIONS
    assert data["interval"] == "1h" and len(data["intervals"]) == 24 and data["empty"] is False
    assert data["thresholds"]["short_abandon_s"] == 20
    assert data["formulas"]["service_level"] == "answered within T = 20 s / (offered - short abandons)"
    assert {q["queue"] for q in data["queues"]} == {"general", "vip"}
    assert [a["agent"] for a in data["agents"]] == ["1001", "1002", "1003"]


def test_text_report_prints_figures_formulas_and_thresholds(journal: dict[str, str]) -> None:
    result = hotline(journal, "report", "--from", "2026-11-23", "--to", "2026-11-23")
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "short abandon S = 20 s, service level T = 20 s" in out
    assert "service level 14.3 % answered within T = 20 s / (offered - short abandons)" in out
    assert "AHT 192.0 s avg talk + avg hold + avg ACW" in out
    assert "per queue" in out and "per agent" in out and "2026-11-23 09:00" in out


def test_queue_and_agent_filters(journal: dict[str, str]) -> None:
    vip = json.loads(hotline(journal, "report", "--from", "2026-11-23", "--queue", "vip", "--json").output)
    assert vip["totals"]["offered"] == 1 and vip["totals"]["silent_calls"] == 1
    agent = json.loads(hotline(journal, "report", "--from", "2026-11-23", "--agent", "1001", "--json").output)
    assert agent["totals"]["avg_talk"] == 150.0 and [a["agent"] for a in agent["agents"]] == ["1001"]


def test_csv_has_one_line_per_group(journal: dict[str, str]) -> None:
    result = hotline(journal, "report", "--from", "2026-11-23", "--interval", "day", "--csv")
    lines = result.output.splitlines()
    assert lines[0].startswith("group,key,calls,offered,answered,")
    assert [line.split(",")[0] for line in lines[1:]] == ["total", "interval", "queue", "queue", "agent", "agent",
                                                          "agent"]


def test_an_empty_period_says_so(journal: dict[str, str]) -> None:
    result = hotline(journal, "report", "--from", "2026-11-20")
    assert result.exit_code == 0
    assert "empty: no call ended and no agent was signed in during this period" in result.output
    data = json.loads(hotline(journal, "report", "--from", "2026-11-20", "--json").output)
    assert data["empty"] is True and data["totals"]["calls"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--queue", "nosuch"], "error: unknown queue 'nosuch'"),
    (["--agent", "9999"], "error: unknown agent '9999'"),
    (["--from", "2026-11-24", "--to", "2026-11-23 10:00"], "error: --from 2026-11-24 00:00 is not before --to"),
    (["--from", "yesterday"], "error: --from 'yesterday' is not a date"),
    (["--plot", "/nonexistent-folder/chart.png"], "error: --plot /nonexistent-folder/chart.png: folder"),
    (["--plot", "chart.gif"], "error: --plot chart.gif: the file name must end in .png or .svg"),
    (["--json", "--csv"], "error: choose one of --json and --csv"),
])
def test_bad_input_is_one_error_line_and_exit_2(journal: dict[str, str], args: list[str], message: str) -> None:
    result = hotline(journal, "report", *args)
    assert result.exit_code == 2
    assert result.output.startswith(message), result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_unwritable_plot_path(journal: dict[str, str], tmp_path: Path) -> None:
    taken = tmp_path / "taken.png"
    taken.mkdir()  # a folder of that name: not writable as a file, even for root
    result = hotline(journal, "report", "--from", "2026-11-23", "--plot", str(taken))
    assert result.exit_code == 2
    assert result.output == f"error: --plot {taken}: cannot write there\n"


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_png_chart_is_an_image_of_the_documented_size(journal: dict[str, str], tmp_path: Path) -> None:
    chart = tmp_path / "day.png"
    result = hotline(journal, "report", "--from", "2026-11-23", "--plot", str(chart))
    assert result.exit_code == 0, result.output
    assert f"chart written to {chart}" in result.output
    assert chart.stat().st_size > 10_000
    assert png_size(chart) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI)) == (1200, 800)


def test_svg_chart_and_an_empty_day(journal: dict[str, str], tmp_path: Path) -> None:
    chart = tmp_path / "empty.svg"
    result = hotline(journal, "report", "--from", "2026-11-20", "--plot", str(chart), "--json")
    assert result.exit_code == 0, result.output
    assert chart.read_text().lstrip().startswith("<?xml") and "<svg" in chart.read_text()


def test_calls_and_call_show_print_the_disposition(journal: dict[str, str]) -> None:
    listing = hotline(journal, "calls", "--limit", "20")
    assert listing.exit_code == 0, listing.output
    assert "transferred (agent 1001, to_queue complaints, waited 10.0 s)" in listing.output
    assert "self_service (result balance)" in listing.output
    rows = json.loads(hotline(journal, "calls", "--json").output)
    assert {r["call_uid"]: r["disposition"] for r in rows}["C"] == "abandoned_queue"
    shown = hotline(journal, "call", "show", "A")
    assert "disposition: answered (agent 1002, waited 25.0 s)" in shown.output
    data = json.loads(hotline(journal, "call", "show", "A", "--json").output)
    assert data["disposition_detail"]["talks"] == [["1002", 280.0, 20.0, "agent"]]


def test_migration_0009_gives_old_calls_a_disposition(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0008")
    with reading(url) as engine, engine.begin() as connection:
        connection.execute(text("INSERT INTO calls (id, call_uid, caller, source, started_at, ended_at, outcome) "
                                "VALUES (1, 'old-1', '138', 'controller', '2026-11-01 01:00:00', "
                                "'2026-11-01 01:01:05', 'abandoned'), (2, 'old-2', '139', 'controller', "
                                "'2026-11-01 02:00:00', NULL, NULL)"))
        connection.execute(text("INSERT INTO call_events (call_id, seq, at, kind, data) VALUES "
                                "(1, 1, '2026-11-01 01:00:00', 'call.started', '{}'), "
                                "(1, 2, '2026-11-01 01:00:05', 'queue.entered', '{\"queue\": \"general\"}'), "
                                "(1, 3, '2026-11-01 01:01:05', 'call.ended', '{\"outcome\": \"abandoned\"}')"))
    upgrade(url)
    with reading(url) as engine, engine.connect() as connection:
        rows = connection.execute(text("SELECT call_uid, disposition, disposition_detail FROM calls ORDER BY id")).all()
    assert rows[0][:2] == ("old-1", "abandoned_queue")
    assert json.loads(rows[0][2]) == {"queue": "general", "wait_s": 60.0}
    assert rows[1][1:] == (None, None)  # a call still live has none yet
