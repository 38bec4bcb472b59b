"""Caller numbers are personal data: logs only ever show them masked."""

from __future__ import annotations


def mask_number(number: str | None) -> str:
    """Keep the first three and last four digits of long numbers, hide the rest.

    >>> mask_number("13800138000")
    '138****8000'
    >>> mask_number("8001")
    '****'
    """
    if not number:
        return "(unknown)"
    if len(number) <= 6:
        return "*" * len(number)
    if len(number) <= 8:
        return number[:2] + "*" * (len(number) - 4) + number[-2:]
    return number[:3] + "*" * (len(number) - 7) + number[-4:]
