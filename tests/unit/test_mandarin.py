"""Mandarin readings of amounts, numbers, digit strings, dates, data volumes and order states."""

from __future__ import annotations

from datetime import date

import pytest

from engine.speech.mandarin import say_amount, say_data_mb, say_date, say_digits, say_number, say_order_status


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "零"),
        (1, "一"),
        (2, "二"),
        (10, "十"),
        (11, "十一"),
        (15, "十五"),
        (20, "二十"),
        (22, "二十二"),
        (100, "一百"),
        (101, "一百零一"),
        (110, "一百一十"),
        (115, "一百一十五"),
        (200, "二百"),
        (1000, "一千"),
        (1001, "一千零一"),
        (1010, "一千零一十"),
        (1100, "一千一百"),
        (2000, "两千"),
        (2200, "两千二百"),
        (10000, "一万"),
        (10001, "一万零一"),
        (10010, "一万零一十"),
        (10050, "一万零五十"),
        (10100, "一万零一百"),
        (12000, "一万二千"),
        (12345, "一万二千三百四十五"),
        (20000, "两万"),
        (22000, "两万二千"),
        (30005, "三万零五"),
        (100000, "十万"),
        (100010, "十万零一十"),
        (150000, "十五万"),
        (1000000, "一百万"),
        (1010101, "一百零一万零一百零一"),
        (10000001, "一千万零一"),
        (100000000, "一亿"),
        (100000001, "一亿零一"),
        (100001000, "一亿零一千"),
        (100010000, "一亿零一万"),
        (100100000, "一亿零一十万"),
        (123456789, "一亿二千三百四十五万六千七百八十九"),
        (200000000, "两亿"),
        (1000000000, "十亿"),
        (-3, "负三"),
        (-2000, "负两千"),
    ],
)
def test_say_number(n: int, words: str) -> None:
    assert say_number(n) == words


def test_say_number_refuses_absurd_sizes() -> None:
    with pytest.raises(ValueError):
        say_number(10**17)


@pytest.mark.parametrize(
    ("fen", "words"),
    [
        (12345, "一百二十三元四角五分"),
        (8800, "八十八元整"),
        (0, "零元"),
        (100, "一元整"),
        (1000, "十元整"),
        (12305, "一百二十三元零五分"),
        (12340, "一百二十三元四角"),
        (1, "一分"),
        (50, "五角"),
        (55, "五角五分"),
        (200000, "两千元整"),
        (1256000, "一万二千五百六十元整"),
        (-500, "欠费五元整"),
        (-2350, "欠费二十三元五角"),
    ],
)
def test_say_amount(fen: int, words: str) -> None:
    assert say_amount(fen) == words


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("13800138000", "幺三八零零幺三八零零零"),
        ("10086", "幺零零八六"),
        ("BB20261123001", "BB二零二六幺幺二三零零幺"),
        ("bb-12 3", "BB幺二三"),
        ("*#", "星井"),
        ("", ""),
    ],
)
def test_say_digits(text: str, words: str) -> None:
    assert say_digits(text) == words


def test_say_digits_refuses_other_characters() -> None:
    with pytest.raises(ValueError):
        say_digits("12.5")


def test_say_date() -> None:
    assert say_date(date(2026, 11, 23)) == "十一月二十三日"
    assert say_date(date(2026, 1, 10)) == "一月十日"
    assert say_date(date(2026, 12, 31)) == "十二月三十一日"
    assert say_date(date(2026, 2, 1), with_year=True) == "二零二六年二月一日"


@pytest.mark.parametrize(
    ("mb", "words"),
    [
        (0, "零兆"),
        (500, "五百兆"),
        (1023, "一千零二十三兆"),
        (1024, "一GB"),
        (3584, "三点五GB"),
        (10240, "十GB"),
        (1075, "一GB"),  # 1.0498 GB rounds to 1.0: no "点零"
        (1076, "一点一GB"),  # 1.0508 GB rounds half up to 1.1
        (102400, "一百GB"),
    ],
)
def test_say_data_mb(mb: int, words: str) -> None:
    assert say_data_mb(mb) == words


def test_say_data_mb_refuses_negative() -> None:
    with pytest.raises(ValueError):
        say_data_mb(-1)


def test_say_order_status() -> None:
    assert say_order_status("repair", "in_progress") == "您的宽带报修单正在处理中"
    assert say_order_status("install", "accepted") == "您的宽带装机单已受理"
    assert say_order_status("install", "completed") == "您的宽带装机单已处理完成"
    assert say_order_status("repair", "cancelled") == "您的宽带报修单已取消"
    assert say_order_status("repair", "dispatched").startswith("您的宽带报修单已派单")


def test_say_order_status_with_eta_only_while_open() -> None:
    eta = date(2026, 11, 24)
    assert say_order_status("repair", "in_progress", eta) == "您的宽带报修单正在处理中,预计十一月二十四日完成"
    assert say_order_status("repair", "completed", eta) == "您的宽带报修单已处理完成"


def test_say_order_status_refuses_unknown_values() -> None:
    with pytest.raises(ValueError):
        say_order_status("relocate", "accepted")
    with pytest.raises(ValueError):
        say_order_status("repair", "lost")
