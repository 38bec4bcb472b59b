"""`hotline agent ...` with no PBX running: the database changes and pjsip-agents.conf is written for the
PBX's next start. The managed root is a temp folder, so no real instance is touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.agents.config_file import AGENTS_FILE
from engine.agents.store import digest_credential
from engine.cli.main import cli


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.env = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(tmp_path / "data"),
                    "HOTLINE_PBX_ROOT": str(tmp_path / "root"), "HOTLINE_PBX_INSTANCE": "agentcli",
                    "HOTLINE_PBX_SIP_PORT": "5071"}
        self.agents_file = tmp_path / "root" / "etc" / "hotline" / "agentcli" / AGENTS_FILE

    def run(self, *args: str, stdin: str | None = None) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=self.env, input=stdin, catch_exceptions=False)
        return result.exit_code, result.output

    def json(self, *args: str) -> object:
        code, out = self.run(*args, "--json")
        assert code == 0, out
        return json.loads(out)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    env = Env(tmp_path)
    assert env.run("db", "upgrade")[0] == 0
    return env


def test_add_prints_the_account_once_and_writes_the_pjsip_file(env: Env) -> None:
    account = env.json("agent", "add", "1001", "--name", "张三", "--skills", "billing,broadband")
    assert isinstance(account, dict)
    password = account["password"]
    assert account == {"work_number": "1001", "sip_user": "agent-1001", "password": password, "realm": "hotline",
                       "sip_server": "127.0.0.1:5071", "transport": "udp", "pbx_reloaded": False}
    text = env.agents_file.read_text(encoding="utf-8")
    assert env.agents_file.stat().st_mode & 0o777 == 0o600
    assert "[agent-1001]" in text and f"md5_cred = {digest_credential('agent-1001', password)}" in text
    assert password not in text and "张三" not in text

    code, out = env.run("agent", "add", "1002", "--name", "李四", "--tier", "expert")
    assert code == 0
    assert "SIP user:   agent-1002" in out and "realm:      hotline" in out and "127.0.0.1:5071" in out
    assert "PBX: not running" in out and "shown only now" in out
    assert "[agent-1002]" in env.agents_file.read_text(encoding="utf-8")


def test_list_and_show_never_reveal_credentials(env: Env) -> None:
    password = env.json("agent", "add", "1001", "--name", "张三", "--skills", "billing")
    assert isinstance(password, dict)
    rows = env.json("agent", "list")
    assert isinstance(rows, list) and len(rows) == 1
    row = rows[0]
    assert {k: row[k] for k in ("work_number", "name", "skills", "tier", "sip_user")} == {
        "work_number": "1001", "name": "张三", "skills": ["billing"], "tier": "inbound", "sip_user": "agent-1001"}
    shown = env.json("agent", "show", "1001")
    code, listing = env.run("agent", "list")
    code2, text = env.run("agent", "show", "1001")
    assert code == code2 == 0 and "agent-1001" in listing and "张三" in text
    for out in (json.dumps(rows), json.dumps(shown), listing, text):
        assert password["password"] not in out and "md5" not in out


def test_passwd_and_remove(env: Env) -> None:
    first = env.json("agent", "add", "1001", "--name", "张三")
    second = env.json("agent", "passwd", "1001")
    assert isinstance(first, dict) and isinstance(second, dict)
    assert second["password"] != first["password"] and second["sip_user"] == "agent-1001"
    assert digest_credential("agent-1001", str(second["password"])) in env.agents_file.read_text(encoding="utf-8")

    code, out = env.run("agent", "remove", "1001", stdin="n\n")
    assert code == 1 and "Aborted" in out
    assert "[agent-1001]" in env.agents_file.read_text(encoding="utf-8")
    code, out = env.run("agent", "remove", "1001", stdin="y\n")
    assert code == 0 and "agent 1001 removed" in out
    assert "[agent-1001]" not in env.agents_file.read_text(encoding="utf-8")
    assert env.json("agent", "list") == []


def test_domain_errors_are_one_line_with_exit_1(env: Env) -> None:
    env.run("agent", "add", "1001", "--name", "张三")
    for args, message in [
        (("agent", "add", "1001", "--name", "x"), "error: agent 1001 already exists"),
        (("agent", "add", "12", "--name", "x"), "error: work number '12' must be 3 to 8 digits"),
        (("agent", "show", "1009"), "error: no agent with work number 1009"),
        (("agent", "passwd", "1009"), "error: no agent with work number 1009"),
        (("agent", "remove", "1009", "--yes"), "error: no agent with work number 1009"),
    ]:
        assert env.run(*args) == (1, message + "\n")
    code, out = env.run("agent", "add", "1003", "--name", "x", "--tier", "big boss")
    assert code == 1 and out.startswith("error: tier 'big boss' must be 1 to 16 letters")


def test_without_a_database_exits_3(tmp_path: Path) -> None:
    code, out = Env(tmp_path).run("agent", "list")
    assert code == 3 and out.startswith("error: database") and len(out.strip().splitlines()) == 1
