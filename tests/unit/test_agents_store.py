"""Agent provisioning in the database: add/list/show/remove/passwd, strong passwords, no clear password stored."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import select

from engine.agents.errors import AgentExists, AgentNotFound, BadAgent
from engine.agents.store import (
    PASSWORD_ALPHABET,
    REALM,
    add_agent,
    digest_credential,
    generate_password,
    get_agent,
    list_agents,
    remove_agent,
    set_password,
)
from engine.store.agent_tables import agents
from engine.store.database import make_engine
from engine.store.migrate import upgrade

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sqlalchemy.Engine]:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    db = make_engine(url)
    yield db
    db.dispose()


def _stored(engine: sqlalchemy.Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(select(agents))]


def test_add_then_show_and_list(engine: sqlalchemy.Engine) -> None:
    new = add_agent(engine, "1001", "  张三  ", ["Billing", "broadband", ""], "expert", now=T0)
    assert (new.work_number, new.sip_user) == ("1001", "agent-1001")
    assert "password" not in repr(new) and new.password not in repr(new)
    agent = get_agent(engine, "1001")
    assert agent.name == "张三" and agent.skills == frozenset({"billing", "broadband"})
    assert (agent.tier, agent.sip_user, agent.created_at, agent.removed_at) == ("expert", "agent-1001", T0, None)
    add_agent(engine, "999", "李四", [], "inbound")
    add_agent(engine, "10000", "王五", [], "qc")
    assert [a.work_number for a in list_agents(engine)] == ["999", "1001", "10000"]


def test_only_the_digest_credential_is_stored(engine: sqlalchemy.Engine) -> None:
    new = add_agent(engine, "1001", "张三", [], "inbound")
    (row,) = _stored(engine)
    expected = hashlib.md5(f"agent-1001:{REALM}:{new.password}".encode()).hexdigest()
    assert row["md5_cred"] == expected == digest_credential("agent-1001", new.password)
    assert all(new.password not in str(value) for value in row.values())


def test_passwords_are_strong() -> None:
    passwords = {generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert len(password) >= 20 and set(password) <= set(PASSWORD_ALPHABET)
        assert any(c.isdigit() for c in password) and any(c.isalpha() for c in password)
    assert not set("0O1lI") & set(PASSWORD_ALPHABET)
    with pytest.raises(ValueError):
        generate_password(12)


def test_new_password_replaces_the_credential(engine: sqlalchemy.Engine) -> None:
    first = add_agent(engine, "1001", "张三", [], "inbound").password
    second = set_password(engine, "1001")
    assert second != first
    (row,) = _stored(engine)
    assert row["md5_cred"] == digest_credential("agent-1001", second)
    with pytest.raises(AgentNotFound):
        set_password(engine, "1002")


def test_remove_is_soft_and_a_removed_number_can_come_back(engine: sqlalchemy.Engine) -> None:
    add_agent(engine, "1001", "张三", ["billing"], "inbound", now=T0)
    remove_agent(engine, "1001", now=T0)
    assert list_agents(engine) == []
    assert [a.removed_at for a in list_agents(engine, include_removed=True)] == [T0]
    for action in (lambda: get_agent(engine, "1001"), lambda: remove_agent(engine, "1001"),
                   lambda: set_password(engine, "1001")):
        with pytest.raises(AgentNotFound) as err:
            action()
        assert err.value.code == "agent-not-found"
    again = add_agent(engine, "1001", "赵六", [], "backoffice")
    agent = get_agent(engine, "1001")
    assert (agent.name, agent.tier, agent.skills, agent.removed_at) == ("赵六", "backoffice", frozenset(), None)
    assert _stored(engine)[0]["md5_cred"] == digest_credential("agent-1001", again.password)


def test_duplicates_and_bad_input_are_refused_before_any_change(engine: sqlalchemy.Engine) -> None:
    add_agent(engine, "1001", "张三", [], "inbound")
    with pytest.raises(AgentExists) as exists:
        add_agent(engine, "1001", "李四", [], "inbound")
    assert exists.value.code == "agent-exists" and exists.value.exit_code == 1
    bad: list[tuple[str, str, list[str], str]] = [
        ("12", "x", [], "inbound"), ("123456789", "x", [], "inbound"), ("10a1", "x", [], "inbound"),
        ("1002", "   ", [], "inbound"), ("1002", "x" * 65, [], "inbound"), ("1002", "a\x00b", [], "inbound"),
        ("1002", "x", ["bad skill"], "inbound"), ("1002", "x", ["x" * 33], "inbound"), ("1002", "x", [], "big boss"),
        ("1002", "x", [], "9th"), ("1002", "x", [], "x" * 17),
    ]
    for work_number, name, skills, tier in bad:
        with pytest.raises(BadAgent) as err:
            add_agent(engine, work_number, name, skills, tier)
        assert err.value.code == "bad-agent"
    assert [a.work_number for a in list_agents(engine, include_removed=True)] == ["1001"]


def test_tier_check_constraint_guards_the_table(engine: sqlalchemy.Engine) -> None:
    with pytest.raises(sqlalchemy.exc.IntegrityError), engine.begin() as connection:
        connection.execute(agents.insert().values(work_number="1001", name="x", skills=[], tier="big boss",
                                                  sip_user="agent-1001", md5_cred="0" * 32, created_at=T0))
