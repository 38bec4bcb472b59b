"""Values read out in Mandarin: money, numbers, digit strings, dates, data volumes, order states.

Pure functions; the IVR runner joins their output into ``Say(text=...)`` items that
engine.prompts.tts renders. Readings follow telecom IVR habit (10086/10000/10010):

- amounts in 元/角/分 ("一百二十三元四角五分", "八十八元整"), a negative balance as "欠费…";
- numbers with 万/亿 sections and one 零 per gap ("一万零五十");
- 两 only for a leading 2 before 千/万/亿 ("两千", "两万"), where 二 sounds wrong; 二 elsewhere
  ("二百", "一千二百", "二十二元"), which is what bank and carrier IVRs say;
- phone and order numbers digit by digit with 1 as "幺" so it is not mistaken for 7.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Final

DIGITS: Final = "零一二三四五六七八九"
# Positions inside a 4-digit section, and the units of the sections themselves.
_SMALL_UNITS: Final = ("", "十", "百", "千")
_BIG_UNITS: Final = ("", "万", "亿", "万亿")
_PHONE_DIGITS: Final = {**{str(i): DIGITS[i] for i in range(10)}, "1": "幺", "*": "星", "#": "井"}

ORDER_KINDS: Final = {"install": "宽带装机单", "repair": "宽带报修单"}
ORDER_STATES: Final = {
    "accepted": "已受理",
    "dispatched": "已派单,工作人员将尽快与您联系",
    "in_progress": "正在处理中",
    "completed": "已处理完成",
    "cancelled": "已取消",
}
# States where a planned date still means something to the caller.
_OPEN_STATES: Final = ("accepted", "dispatched", "in_progress")


def say_number(n: int) -> str:
    """An integer in words: 0 → 零, 10 → 十, 105 → 一百零五, 20000 → 两万, -3 → 负三."""
    if n < 0:
        return "负" + say_number(-n)
    if n == 0:
        return DIGITS[0]
    sections: list[int] = []
    while n:
        n, section = divmod(n, 10000)
        sections.append(section)
    if len(sections) > len(_BIG_UNITS):
        raise ValueError("number too large to read out")
    words = ""
    # A zero is spoken once for a gap between non-zero parts: 一亿零五, 一万零五十, not 一亿零零零五.
    pending_zero = False
    for index in range(len(sections) - 1, -1, -1):
        section = sections[index]
        if section == 0:
            pending_zero = bool(words)
            continue
        if words and (pending_zero or section < 1000):
            words += DIGITS[0]
        words += _say_section(section, leading=not words) + _BIG_UNITS[index]
        pending_zero = False
    return _leading_two(words)


def _say_section(section: int, *, leading: bool) -> str:
    """1..9999 in words, with inner zeros; ``leading`` drops the 一 of 一十 at the very start (十五)."""
    words = ""
    zero = False
    for position in range(3, -1, -1):
        digit = section // 10**position % 10
        if digit == 0:
            zero = bool(words)
            continue
        if zero:
            words += DIGITS[0]
            zero = False
        if not (leading and not words and digit == 1 and position == 1):
            words += DIGITS[digit]
        words += _SMALL_UNITS[position]
    return words


def _leading_two(words: str) -> str:
    # 两千 / 两万 / 两亿 at the start; 二十, 二百 and any later 二 stay as they are.
    if words[:1] == "二" and words[1:2] in ("千", "万", "亿"):
        return "两" + words[1:]
    return words


def say_amount(fen: int) -> str:
    """Money in fen read as yuan: 12345 → 一百二十三元四角五分, 8800 → 八十八元整, 0 → 零元, -500 → 欠费五元整."""
    if fen < 0:
        return "欠费" + say_amount(-fen)
    yuan, rest = divmod(fen, 100)
    jiao, cents = divmod(rest, 10)
    if rest == 0:
        return "零元" if yuan == 0 else say_number(yuan) + "元整"
    words = say_number(yuan) + "元" if yuan else ""
    if jiao:
        words += DIGITS[jiao] + "角"
    elif yuan:
        words += DIGITS[0]  # 一百元零五分
    if cents:
        words += DIGITS[cents] + "分"
    return words


def say_digits(text: str) -> str:
    """A phone or order number digit by digit: "10086" → 幺零零八六. Letters stay (BB → BB); spaces and
    hyphens are dropped; anything else is a ValueError."""
    words: list[str] = []
    for char in text:
        if char in _PHONE_DIGITS:
            words.append(_PHONE_DIGITS[char])
        elif char.isascii() and char.isalpha():
            words.append(char.upper())
        elif char not in " -":
            raise ValueError(f"cannot read {char!r} out digit by digit")
    return "".join(words)


def say_date(day: date, *, with_year: bool = False) -> str:
    """十一月二十三日; with the year read digit by digit: 二零二六年十一月二十三日."""
    month_day = f"{say_number(day.month)}月{say_number(day.day)}日"
    if not with_year:
        return month_day
    return "".join(DIGITS[int(d)] for d in str(day.year)) + "年" + month_day


def say_data_mb(mb: int) -> str:
    """A data volume: 500 → 五百兆; from 1024 MB in GB with one decimal: 3584 → 三点五GB, 10240 → 十GB."""
    if mb < 0:
        raise ValueError("a data volume cannot be negative")
    if mb < 1024:
        return say_number(mb) + "兆"
    gb = (Decimal(mb) / 1024).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    whole, tenth = divmod(int(gb * 10), 10)
    words = say_number(whole)
    if tenth:
        words += "点" + DIGITS[tenth]
    return words + "GB"


def say_order_status(kind: str, status: str, eta: date | None = None) -> str:
    """您的宽带报修单正在处理中; with ``eta`` for an open order: …,预计十一月二十四日完成."""
    try:
        words = f"您的{ORDER_KINDS[kind]}{ORDER_STATES[status]}"
    except KeyError as missing:
        raise ValueError(f"unknown broadband order kind or status: {missing}") from None
    if eta is not None and status in _OPEN_STATES:
        words += f",预计{say_date(eta)}完成"
    return words
