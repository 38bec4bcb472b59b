"""A throwaway PostgreSQL 15 server for the test session, for the tests marked ``postgres``.

The server runs as the ``postgres`` OS user (PostgreSQL refuses root), listens on 127.0.0.1 only, on
a free port, with trust authentication and its socket in the temporary folder; it is stopped and its
folder removed at the end of the session. Without the server binaries the tests are skipped.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

PG_BIN = Path("/usr/lib/postgresql/15/bin")
_names = itertools.count(1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(args: list[str]) -> list[str]:
    # Only root needs to switch; a developer's own account may run PostgreSQL directly.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _run(args: list[str], cwd: Path, what: str) -> None:
    done = subprocess.run(_as_server_user(args), cwd=cwd, capture_output=True, text=True, timeout=90)
    if done.returncode != 0:
        log = cwd / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        pytest.fail(f"{what} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}\n{tail}")


def _skip_reason() -> str | None:
    if not (PG_BIN / "initdb").exists() or not (PG_BIN / "pg_ctl").exists():
        return f"PostgreSQL 15 server binaries not found in {PG_BIN} (apt-get install postgresql)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' OS user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is not available to switch to the 'postgres' user"
    return None


class ThrowawayPostgres:
    """One PostgreSQL 15 server in a temporary folder: ``start``, ``stop`` (also in the middle of a test, to
    take the database away) and ``remove``."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        self.data, self.port = self.folder / "data", _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"
        self.running = False
        initdb = [str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust"]
        _run([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"], self.folder, "initdb")

    def start(self) -> None:
        options = (f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off "
                   "-c full_page_writes=off")
        self.running = True
        pg_ctl = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60"]
        _run([*pg_ctl, "start", "-l", str(self.folder / "server.log"), "-o", options], self.folder, "pg_ctl start")

    def stop(self) -> None:
        subprocess.run(_as_server_user([str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast", "-w"]),
                       cwd=self.folder, capture_output=True, timeout=90, check=False)
        self.running = False

    def remove(self) -> None:
        if self.running:
            self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """URL (without database name) of a PostgreSQL server that lives as long as the test session."""
    reason = _skip_reason()
    if reason is not None:
        pytest.skip(reason)
    server = ThrowawayPostgres()
    try:
        server.start()
        yield server.url
    finally:
        server.remove()


def _create_database(server: str, name: str) -> str:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


@pytest.fixture(scope="session")
def postgres_url(postgres_server: str) -> str:
    """URL of the session's ``hotline`` database (empty: no schema until a test upgrades it)."""
    return _create_database(postgres_server, "hotline")


@pytest.fixture
def fresh_postgres_url(postgres_server: str) -> str:
    """URL of a new, empty database for one test, so tests cannot see each other's calls."""
    return _create_database(postgres_server, f"hotline_test_{next(_names)}")
