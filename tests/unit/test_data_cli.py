"""`hotline data load|accounts`: sample data, CSV files (checked first, loaded all or nothing), masked listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.selfservice.password_key import PasswordKey, load_or_create
from engine.selfservice.passwords import hash_password

ACCOUNTS_HEADER = "number,holder,password,balance_yuan,bill_yuan,bill_month,data_used_mb,data_total_mb\n"
ORDERS_HEADER = "order_no,number,kind,status,eta\n"
OTHER_SITE = PasswordKey(bytes(range(32)))  # fixed: test ids must be the same in every xdist worker


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.env = {"HOTLINE_CONFIG": "", "HOTLINE_DATA_DIR": str(tmp_path / "data")}

    def run(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)
        return result.exit_code, result.output

    def file(self, name: str, text: str) -> str:
        path = self.tmp_path / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def accounts(self) -> list[dict[str, object]]:
        code, out = self.run("data", "accounts", "--json")
        assert code == 0
        rows: list[dict[str, object]] = json.loads(out)
        return rows


@pytest.fixture
def env(tmp_path: Path) -> Env:
    env = Env(tmp_path)
    assert env.run("db", "upgrade")[0] == 0
    return env


def test_sample_load_and_masked_listing(env: Env) -> None:
    code, out = env.run("data", "load", "--sample")
    assert (code, out) == (0, "accounts: 4 added, 0 updated; broadband orders: 3 added, 0 updated\n")
    rows = env.accounts()
    demo = next(r for r in rows if r["number"] == "138****8000")
    assert demo["balance_fen"] == 12345 and demo["bill_fen"] == 8800
    assert (demo["data_used_mb"], demo["data_total_mb"]) == (3584, 10240)
    assert "139****0001" in [r["number"] for r in rows]
    code, text = env.run("data", "accounts")
    for out_text in (json.dumps(rows, ensure_ascii=False), text):
        assert "13800138000" not in out_text and "scrypt" not in out_text and "123456" not in out_text
        assert "张三" not in out_text
    assert "123.45" in text and "88.00" in text and "-23.50" in text

    code, out = env.run("data", "load", "--sample")
    assert (code, out) == (0, "accounts: 0 added, 4 updated; broadband orders: 0 added, 3 updated\n")


def test_csv_load_upserts_by_key(env: Env) -> None:
    accounts = env.file("a.csv", "\ufeff" + ACCOUNTS_HEADER
                        + "13800138000,张三,123456,123.45,88,2026-11,3584,10240\n"
                        + "\n"
                        + "13500000005,,000000,-0.5,0.00,,,\n")
    orders = env.file("o.csv", ORDERS_HEADER + "BB1,13800138000,repair,accepted,2026-11-24\n"
                      + "BB-2,13500000005,install,completed,\n")
    assert env.run("data", "load", "--accounts", accounts, "--orders", orders) == (
        0, "accounts: 2 added, 0 updated; broadband orders: 2 added, 0 updated\n")
    by_number = {r["number"]: r for r in env.accounts()}
    assert by_number["135****0005"]["balance_fen"] == -50
    assert by_number["135****0005"]["data_total_mb"] is None

    site_key = load_or_create(Path(env.env["HOTLINE_DATA_DIR"]) / "password-key")
    again = env.file("b.csv", "number,balance_yuan,bill_yuan,password_hash\n"
                     f"13500000005,10,20,{hash_password('111111', site_key)}\n")
    assert env.run("data", "load", "--accounts", again) == (
        0, "accounts: 0 added, 1 updated; broadband orders: 0 added, 0 updated\n")
    assert {r["number"]: r["balance_fen"] for r in env.accounts()}["135****0005"] == 1000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (ACCOUNTS_HEADER + "13800138000,张三,12345,1,1,,,\n", "a.csv:2: password must be exactly 6 digits"),
        (ACCOUNTS_HEADER + "1380013800x,张三,123456,1,1,,,\n", "a.csv:2: number must be digits only"),
        (ACCOUNTS_HEADER + "13800138000,,123456,1.234,1,,,\n", "a.csv:2: balance_yuan '1.234' is not an amount"),
        (ACCOUNTS_HEADER + "13800138000,,123456,abc,1,,,\n", "a.csv:2: balance_yuan 'abc' is not an amount"),
        (ACCOUNTS_HEADER + "13800138000,,123456,1,1,2026-13,,\n", "a.csv:2: bill_month '2026-13' is not YYYY-MM"),
        (ACCOUNTS_HEADER + "13800138000,,123456,1,1,,100,\n", "a.csv:2: give data_used_mb and data_total_mb"),
        (ACCOUNTS_HEADER + "13800138000,,123456,1,1,,-5,100\n", "a.csv:2: data_used_mb '-5' is not a whole"),
        (ACCOUNTS_HEADER + "13800138000,,,1,1,,,\n", "a.csv:2: password (6 digits) or password_hash is required"),
        (ACCOUNTS_HEADER + "13800138000,,123456,1,1,,,\n13800138000,,123456,1,1,,,\n",
         "a.csv:3: duplicate number (first on line 2)"),
        (ACCOUNTS_HEADER + "13800138000,,123456,1,1,,,,extra\n", "a.csv:2: more values than columns"),
        ("number,balance,bill_yuan,password\n", "a.csv:1: unknown column 'balance'"),
        ("number,balance_yuan,bill_yuan,password_hash\n"
         f"13800138000,1,1,{hash_password('123456', OTHER_SITE)}\n",
         f"a.csv:2: password_hash was made with password key {OTHER_SITE.key_id}, this site's is "),
        ("number,bill_yuan,password\n", "a.csv:1: missing column 'balance_yuan'"),
    ],
)
def test_bad_account_rows(env: Env, text: str, message: str) -> None:
    path = env.file("a.csv", text)
    code, out = env.run("data", "load", "--accounts", path)
    assert code == 1
    assert out.startswith(f"error: {env.tmp_path}/{message}"), out
    assert "Traceback" not in out


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("BB1,13800138000,relocate,accepted,", "o.csv:2: kind 'relocate' is not one of install, repair"),
        ("BB1,13800138000,repair,done,", "o.csv:2: status 'done' is not one of accepted"),
        ("BB1,13800138000,repair,accepted,24/11/2026", "o.csv:2: eta '24/11/2026' is not a date YYYY-MM-DD"),
        ("BB 1,13800138000,repair,accepted,", "o.csv:2: order_no must be letters, digits and '-'"),
    ],
)
def test_bad_order_rows_load_nothing(env: Env, row: str, message: str) -> None:
    accounts = env.file("a.csv", ACCOUNTS_HEADER + "13800138000,,123456,1,1,,,\n")
    orders = env.file("o.csv", ORDERS_HEADER + row + "\n")
    code, out = env.run("data", "load", "--accounts", accounts, "--orders", orders)
    assert code == 1 and out.startswith(f"error: {env.tmp_path}/{message}"), out
    assert env.accounts() == []  # the good accounts file was not loaded either


def test_not_utf8(env: Env) -> None:
    path = env.tmp_path / "a.csv"
    path.write_bytes(ACCOUNTS_HEADER.encode() + "13800138000,张三,123456,1,1,,,\n".encode("gbk"))
    code, out = env.run("data", "load", "--accounts", str(path))
    assert code == 1 and "not UTF-8" in out


def test_load_needs_something_to_load(env: Env) -> None:
    code, out = env.run("data", "load")
    assert code == 2 and "--sample" in out


def test_load_needs_the_schema(tmp_path: Path) -> None:
    code, out = Env(tmp_path).run("data", "load", "--sample")
    assert code == 3 and "hotline db upgrade" in out
