"""The journal writer's write-ahead file: lingering batches that a killed controller does not lose.

The kill is real: a child process runs a lingering writer, appends, and SIGKILLs itself while entries are
held back; the next writer on the same folder replays them, each once, after what was committed before.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy.event import listen

from engine.store.journal import JournalEntry, JournalWriter
from engine.store.migrate import upgrade
from tests.journal_checks import CALLER, entry, seqs_of


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hotline.db'}"
    upgrade(url)
    return url


def call_entries(uid: str, count: int, first_s: float = 0) -> list[JournalEntry]:
    return [entry(uid, "call.started", first_s, caller=CALLER, dialed="10086", source="controller"),
            *(entry(uid, "ivr.node", first_s + n, node=f"menu-{n}") for n in range(1, count))]


async def run_writer(writer: JournalWriter, *entries: JournalEntry) -> None:
    runner = asyncio.create_task(writer.run())
    for item in entries:
        writer.append(item)
    await asyncio.wait_for(writer.wait_replayed(), 30)
    await asyncio.wait_for(writer.wait_idle(), 30)
    await writer.close()
    await runner


def test_a_lingering_writer_commits_what_comes_meanwhile_in_one_transaction(db_url: str, tmp_path: Path) -> None:
    writer = JournalWriter(db_url, tmp_path / "spill.jsonl", ahead_path=tmp_path / "ahead.jsonl", linger_s=0.3)
    commits: list[object] = []
    listen(writer._engine, "commit", commits.append)

    async def scenario() -> None:
        runner = asyncio.create_task(writer.run())
        await asyncio.wait_for(writer.wait_replayed(), 30)
        commits.clear()
        for item in call_entries("u1", 10):  # a call's entries a few milliseconds apart
            writer.append(item)
            await asyncio.sleep(0.005)
        await asyncio.wait_for(writer.wait_idle(), 30)
        await writer.close()
        await runner

    asyncio.run(scenario())
    assert len(commits) == 1
    assert [kind for _, kind in seqs_of(db_url, "u1")] == ["call.started"] + ["ivr.node"] * 9
    assert not (tmp_path / "ahead.jsonl").exists()  # a clean stop leaves nothing to replay


def test_entries_held_back_survive_a_killed_controller(db_url: str, tmp_path: Path) -> None:
    ahead, spill = tmp_path / "ahead.jsonl", tmp_path / "spill.jsonl"
    child = tmp_path / "child.py"
    child.write_text(textwrap.dedent(f"""
        import asyncio, os, signal
        from pathlib import Path
        from engine.store.journal import JournalWriter
        from tests.unit.test_journal_ahead import call_entries

        async def main() -> None:
            writer = JournalWriter({db_url!r}, Path({str(spill)!r}), ahead_path=Path({str(ahead)!r}),
                                   linger_s=2)
            asyncio.create_task(writer.run())
            for item in call_entries("u1", 6)[:3]:
                writer.append(item)
            await asyncio.sleep(3)  # one linger: committed
            for item in call_entries("u1", 6)[3:] + call_entries("u2", 2, first_s=10):
                writer.append(item)
            await asyncio.sleep(0.05)  # within the next linger: held back
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
    """))
    project = Path(__file__).parents[2]
    done = subprocess.run([sys.executable, str(child)], cwd=project, capture_output=True, text=True, timeout=60,
                          check=False, env={**os.environ, "PYTHONPATH": str(project)})
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert [kind for _, kind in seqs_of(db_url, "u1")] == ["call.started", "ivr.node", "ivr.node"]
    assert len(ahead.read_text(encoding="utf-8").splitlines()) == 5  # the committed ones were cleared

    asyncio.run(run_writer(JournalWriter(db_url, spill, ahead_path=ahead, linger_s=0.2),
                           entry("u2", "call.ended", 20, outcome="abandoned")))
    assert seqs_of(db_url, "u1") == [(1, "call.started"), *((n, "ivr.node") for n in range(2, 7))]
    assert seqs_of(db_url, "u2") == [(1, "call.started"), (2, "ivr.node"), (3, "call.ended")]
    assert not ahead.exists() and not spill.exists()


def test_lines_in_both_the_spill_and_the_write_ahead_file_are_written_once(db_url: str, tmp_path: Path) -> None:
    """A crash between moving entries from one file to the other leaves them in both."""
    ahead, spill = tmp_path / "ahead.jsonl", tmp_path / "spill.jsonl"
    first, second, third = call_entries("u1", 3)
    spill.write_text(first.to_json() + "\n" + second.to_json() + "\n", encoding="utf-8")
    ahead.write_text(second.to_json() + "\n" + third.to_json() + "\n", encoding="utf-8")
    asyncio.run(run_writer(JournalWriter(db_url, spill, ahead_path=ahead)))
    assert seqs_of(db_url, "u1") == [(1, "call.started"), (2, "ivr.node"), (3, "ivr.node")]
    assert not ahead.exists() and not spill.exists()


def test_the_write_ahead_file_is_the_owners_alone(db_url: str, tmp_path: Path) -> None:
    """It holds caller numbers, like the database."""
    writer = JournalWriter(db_url, tmp_path / "spill.jsonl", ahead_path=tmp_path / "ahead.jsonl")
    writer.append(call_entries("u1", 1)[0])
    assert os.stat(tmp_path / "ahead.jsonl").st_mode & 0o077 == 0
    asyncio.run(run_writer(writer))


def test_lingering_without_a_write_ahead_file_is_refused(db_url: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="write-ahead"):
        JournalWriter(db_url, tmp_path / "spill.jsonl", linger_s=0.2)
