"""Agents in bulk: `hotline agent import FILE.csv` (checked as a whole, one PBX reload, new passwords in a
0600 file), `agent set`, `agent login|logout` with several work numbers or a tier, and the tier migration."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
from alembic import command
from click.testing import CliRunner
from sqlalchemy import select, text, update

from engine.agents import provision
from engine.agents.errors import AgentNotFound, BadAgent, BadAgentFile
from engine.agents.import_file import read_agents_csv
from engine.agents.requests import agents_for, request_all
from engine.agents.store import (
    AgentSpec,
    add_agent,
    digest_credential,
    get_agent,
    import_agents,
    list_agents,
    remove_agent,
    update_agent,
)
from engine.cli.main import cli
from engine.store.agent_journal_tables import agent_requests
from engine.store.agent_tables import agents
from engine.store.database import make_engine
from engine.store.migrate import alembic_config, upgrade

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HEADER = "work_number,name,skills,tier\n"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sqlalchemy.Engine]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    db = make_engine(url)
    yield db
    db.dispose()


def write(tmp_path: Path, body: str, name: str = "agents.csv") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def test_the_file_is_read_with_every_problem_as_file_line(tmp_path: Path) -> None:
    good = write(tmp_path, HEADER + '1001,张三,"general,billing",expert\n\n# a comment,,,\n1002,李四,general;vip,\n'
                 "1003,王五,,\n")
    rows = read_agents_csv(good)
    assert [(r.work_number, r.name, sorted(r.skills), r.tier, r.line) for r in rows] == [
        ("1001", "张三", ["billing", "general"], "expert", 2), ("1002", "李四", ["general", "vip"], "inbound", 5),
        ("1003", "王五", [], "inbound", 6)]
    bad = write(tmp_path, HEADER + "1001,张三,general,expert\n12,x,,\n1003,,general,\n1001,again,,\n"
                "1004,x,bad skill!,\n1005,x,,big boss\n1006,x,,,extra\n")
    with pytest.raises(BadAgentFile) as err:
        read_agents_csv(bad)
    assert err.value.problems == [
        f"{bad}:3: work number '12' must be 3 to 8 digits",
        f"{bad}:4: an agent needs a name",
        f"{bad}:5: work number 1001 is already on line 2",
        f"{bad}:6: skill 'skill!' must be 1 to 32 letters, digits, '-' or '_'",
        f"{bad}:7: tier 'big boss' must be 1 to 16 letters, digits, '-' or '_', starting with a letter "
        "(e.g. inbound, expert, outbound, qc, backoffice)",
        f"{bad}:8: more values than columns",
    ]
    assert err.value.exit_code == 1 and str(err.value).count("\n") == 5
    for body, message in [("number,name\n1001,x\n", ":1: unknown column 'number'"),
                          ("work_number\n1001\n", ":1: missing column 'name'"), (HEADER, ":1: no agents in the file")]:
        with pytest.raises(BadAgentFile, match=message):
            read_agents_csv(write(tmp_path, body, "other.csv"))
    with pytest.raises(BadAgentFile, match="cannot read"):
        read_agents_csv(tmp_path / "missing.csv")


def test_import_creates_updates_and_revives_in_one_transaction(engine: sqlalchemy.Engine) -> None:
    add_agent(engine, "1001", "张三", ["general"], "inbound", now=T0)
    add_agent(engine, "1002", "李四", ["general"], "inbound", now=T0)
    add_agent(engine, "1003", "王五", ["general"], "qc", now=T0)
    remove_agent(engine, "1003", now=T0)
    before = {a.work_number: a.md5_cred for a in list_agents(engine)}
    result = import_agents(engine, [
        AgentSpec("1001", "张三", frozenset({"general"}), "inbound"),       # unchanged
        AgentSpec("1002", "李四", frozenset({"general", "vip"}), "expert"),  # updated, password kept
        AgentSpec("1003", "王五", frozenset(), "backoffice"),               # removed: revived, new password
        AgentSpec("1004", "赵六", frozenset({"general"}), "outbound"),       # new
    ], now=T0)
    assert result.unchanged == ("1001",) and result.updated == ("1002",)
    assert [(n.work_number, n.sip_user) for n in result.created] == [("1003", "agent-1003"), ("1004", "agent-1004")]
    after = {a.work_number: a for a in list_agents(engine)}
    assert after["1002"].tier == "expert" and after["1002"].md5_cred == before["1002"]
    for new in result.created:
        assert after[new.work_number].md5_cred == digest_credential(new.sip_user, new.password)
    assert (after["1003"].tier, after["1003"].removed_at) == ("backoffice", None)
    # All or nothing: a repeated work number refuses the whole list before any change.
    with pytest.raises(BadAgent, match="given twice"):
        import_agents(engine, [AgentSpec("1005", "x", frozenset()), AgentSpec("1005", "y", frozenset())])
    assert "1005" not in {a.work_number for a in list_agents(engine)}


def test_update_agent(engine: sqlalchemy.Engine) -> None:
    add_agent(engine, "1001", "张三", ["general"], now=T0)
    assert get_agent(engine, "1001").tier == "inbound"
    changed = update_agent(engine, "1001", tier="QC", skills=["general", "vip"])
    assert (changed.tier, changed.skills, changed.name) == ("qc", frozenset({"general", "vip"}), "张三")
    with pytest.raises(BadAgent, match="nothing to change"):
        update_agent(engine, "1001")
    with pytest.raises(AgentNotFound):
        update_agent(engine, "1009", name="x")


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.env = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(tmp_path / "data"),
                    "HOTLINE_PBX_ROOT": str(tmp_path / "root"), "HOTLINE_PBX_INSTANCE": "importcli",
                    "HOTLINE_PBX_SIP_PORT": "5071"}

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        return result.exit_code, result.output


def test_cli_import_reloads_once_and_writes_passwords_to_a_private_file(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    env = Env(tmp_path)
    assert env.run("db", "upgrade")[0] == 0
    applied: list[int] = []
    real_apply = provision.apply

    def counting_apply(*args: object, **kwargs: object) -> provision.Provisioned:
        applied.append(1)
        return real_apply(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(provision, "apply", counting_apply)
    body = HEADER + "".join(f"{1000 + i},agent {i},general,{'expert' if i % 10 == 0 else 'inbound'}\n"
                            for i in range(1, 101))
    file = write(tmp_path, body)
    creds = tmp_path / "out" / "creds.csv"
    code, out = env.run("agent", "import", str(file), "--credentials", str(creds))
    assert code == 0, out
    assert applied == [1]
    assert "100 agent(s) created, 0 updated, 0 unchanged" in out and str(creds) in out and "PBX: not running" in out
    assert creds.stat().st_mode & 0o777 == 0o600
    with creds.open(encoding="utf-8") as fh:
        lines = list(csv.DictReader(fh))
    assert len(lines) == 100 and lines[0]["sip_user"] == "agent-1001" and len(lines[0]["password"]) == 24
    assert lines[0]["password"] not in out
    pjsip = (tmp_path / "root" / "etc" / "hotline" / "importcli" / "pjsip-agents.conf").read_text(encoding="utf-8")
    assert pjsip.count("type = endpoint") == 100
    # Again with one change: nothing created, so no credentials file; the same file may not be overwritten.
    write(tmp_path, body.replace("1001,agent 1,general,inbound", "1001,agent 1,general,qc"))
    code, out = env.run("agent", "import", str(file), "--json")
    assert code == 0 and json.loads(out)["updated"] == ["1001"] and json.loads(out)["credentials_file"] is None
    assert env.run("agent", "import", str(file), "--credentials", str(creds))[0] == 2
    # A bad file: every problem, nothing imported.
    bad = write(tmp_path, HEADER + "2001,x,,\n2002,,,\n20,x,,\n", "bad.csv")
    code, out = env.run("agent", "import", str(bad))
    assert code == 1 and out.splitlines() == [f"error: {bad}:3: an agent needs a name",
                                              f"{bad}:4: work number '20' must be 3 to 8 digits"]
    code, out = env.run("agent", "list", "--json")
    assert "2001" not in {a["work_number"] for a in json.loads(out)}
    code, out = env.run("agent", "set", "1001", "--tier", "backoffice", "--json")
    assert code == 0 and json.loads(out)["tier"] == "backoffice"


def _answer(db: sqlalchemy.Engine, results: dict[str, str], stop: threading.Event) -> None:
    """A stand-in for the controller: answers pending requests as ``results`` says."""
    while not stop.is_set():
        with db.begin() as conn:
            for row in conn.execute(select(agent_requests).where(agent_requests.c.result.is_(None))).all():
                if row.agent in results:
                    conn.execute(update(agent_requests).where(agent_requests.c.id == row.id)
                                 .values(result=results[row.agent], done_at=T0))
        time.sleep(0.02)


def test_login_logout_many_agents_or_a_tier(engine: sqlalchemy.Engine) -> None:
    for number, tier in (("1001", "inbound"), ("2001", "expert"), ("2002", "expert"), ("3001", "qc")):
        add_agent(engine, number, f"agent {number}", ["general"], tier)
    assert agents_for(engine, (), "expert") == ["2001", "2002"]
    assert agents_for(engine, ("3001", "1001", "3001"), None) == ["3001", "1001"]
    with pytest.raises(AgentNotFound, match="1009, 1010"):
        agents_for(engine, ("1001", "1009", "1010"), None)
    with pytest.raises(BadAgent):
        agents_for(engine, ("1001",), "qc")
    with pytest.raises(AgentNotFound, match="tier backoffice"):
        agents_for(engine, (), "backoffice")
    stop = threading.Event()
    helper = threading.Thread(target=_answer, args=(engine, {"2001": "ok", "2002": "agent is on a call"}, stop))
    helper.start()
    try:
        answers = request_all(engine, ["2001", "2002", "3001"], "login", within_s=1.0, poll_s=0.05)
    finally:
        stop.set()
        helper.join()
    assert [(a.work_number, a.result) for a in answers] == [("2001", "ok"), ("2002", "agent is on a call"),
                                                            ("3001", None)]
    with engine.connect() as conn:
        assert conn.execute(select(agent_requests.c.agent, agent_requests.c.action)).all() == [
            ("2001", "login"), ("2002", "login"), ("3001", "login")]


def test_the_tier_migration_renames_the_old_tiers(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    command.downgrade(alembic_config(url), "0009")
    db = make_engine(url)
    try:
        with db.begin() as conn:
            for number, tier in (("1001", "regular"), ("1002", "back_office"), ("1003", "qc")):
                conn.execute(text("INSERT INTO agents (work_number, name, skills, tier, sip_user, md5_cred, "
                                  "created_at) VALUES (:n, 'x', '[]', :t, :u, :c, :at)"),
                             {"n": number, "t": tier, "u": f"agent-{number}", "c": "0" * 32, "at": T0})
        upgrade(url)
        with db.connect() as conn:
            assert dict(conn.execute(select(agents.c.work_number, agents.c.tier)).all()) == {  # type: ignore[arg-type]
                "1001": "inbound", "1002": "backoffice", "1003": "qc"}
        command.downgrade(alembic_config(url), "0009")
        with db.connect() as conn:
            assert sorted(conn.execute(text("SELECT tier FROM agents")).scalars()) == ["back_office", "qc", "regular"]
    finally:
        db.dispose()
