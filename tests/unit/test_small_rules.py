"""Small pure rules: number masking, greeting by time of day, fallback CDR parsing."""

from __future__ import annotations

from engine.fallback_journal import journal_entries, parse_cdr_lines
from engine.masking import mask_number


def test_mask_number() -> None:
    assert mask_number("13800138000") == "138****8000"
    assert mask_number("") == "(unknown)"
    assert mask_number("1234") == "****"
    assert "0138" not in mask_number("02150138000")


def test_fallback_cdr_lines_become_journal_entries() -> None:
    text = ('"1700000000.1","13800138000","10086","1700000000.100000","1700000000.400000",'
            '"1700000005.000000","ANSWERED","fallback"\n'
            '"1700000001.2","13800138001","10086","1700000001.0","1700000001.1","1700000002.0","ANSWERED",""\n')
    calls = list(parse_cdr_lines(text))
    assert [c.uid for c in calls] == ["1700000000.1"]
    kinds = [e.kind for e in journal_entries(calls[0])]
    assert kinds == ["call.started", "call.answered", "prompt.played", "call.ended"]
    assert journal_entries(calls[0])[0].data["source"] == "fallback"
