"""Asterisk's CPU by kind of thread: the thread list parsed, the samples added up per kind."""

from __future__ import annotations

import os

from bench.asterisk_threads import TICKS, KindCost, by_kind, table, task_ticks, thread_kinds

LISTING = """\
0x7f530235c6c0 16474 netconsole           started at [ 1588] asterisk.c listener()
0x7f53023d96c0 16473 softmix_mixing_thread started at [ 2099] bridge_softmix.c softmix_bridge_create()
0x7f53085fe6c0 16469 bridge_channel_depart_thread started at [ 2047] bridge.c bridge_impart_internal()
0x7f53087f26c0 16468 bridge_channel_depart_thread started at [ 2047] bridge.c bridge_impart_internal()
17 threads listed.
"""


def test_threads_are_named_by_their_starting_function() -> None:
    kinds = thread_kinds(LISTING)
    assert kinds[16473] == "softmix_mixing_thread (bridge_softmix.c)"
    assert kinds[16468] == kinds[16469] == "bridge_channel_depart_thread (bridge.c)"
    assert len(kinds) == 4


def test_cpu_is_added_up_by_kind_from_the_first_sample_or_from_birth() -> None:
    first = {16468: ("asterisk", 100), 16473: ("asterisk", 50), 1: ("asterisk", 10)}
    samples = [
        {16468: ("asterisk", 110), 16473: ("asterisk", 60), 1: ("asterisk", 10), 16469: ("asterisk", 5)},
        {16468: ("asterisk", 130), 1: ("asterisk", 12), 16469: ("asterisk", 15)},  # the mixer ended
    ]
    costs = {c.kind: c for c in by_kind(first, samples, thread_kinds(LISTING))}
    depart = costs["bridge_channel_depart_thread (bridge.c)"]
    assert depart.cpu_s == round((30 + 15) / TICKS, 2) and depart.threads == 2  # one born after the first sample
    assert costs["softmix_mixing_thread (bridge_softmix.c)"].cpu_s == round(10 / TICKS, 2)
    assert costs["(asterisk)"].cpu_s == round(2 / TICKS, 2)  # never listed: its command name
    assert next(iter(costs)) == "bridge_channel_depart_thread (bridge.c)"  # most CPU first


def test_this_process_threads_are_read_and_the_table_gives_shares() -> None:
    assert os.getpid() in task_ticks(os.getpid())
    text = table([KindCost("pbx_thread (pbx.c)", 3.0, 10), KindCost("sched_run (sched.c)", 1.0, 1),
                  KindCost("idle", 0.0, 1)])
    assert "| pbx_thread (pbx.c) | 3.00 | 75.0% | 10 |" in text and "idle" not in text
