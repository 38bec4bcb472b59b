"""Where a running Asterisk spends its CPU, by kind of thread: ``python -m bench.asterisk_threads``.

Asterisk's own symbols cannot be resolved on these machines (Debian's debug-symbol archive is not reachable), so
``perf`` stops at the kernel/user line. Its threads, though, say what they are: ``core show threads`` lists each
with its LWP and the function that started it (``pbx_thread`` for a channel running dialplan or Stasis,
``bridge_channel_depart_thread`` for a channel ARI put in a bridge, ``softmix_mixing_thread`` for a mixing bridge,
the task processors of the Stasis message bus, the HTTP/websocket sessions...). Sampling ``/proc/<pid>/task`` CPU
ticks twice a second and the thread list every two seconds, while a bench step runs, adds each thread's CPU to
its kind. Threads that end between two samples lose at most their last half second, so the split is a lower
bound per kind, good to compare paths, not to add up to the process total.

Run it beside a bench step (``--instance`` of the bench's PBX, ``benchj`` by default), for a little less than the
step lasts. It costs an ``asterisk -rx`` every two seconds and a scan of a few hundred task files twice a second:
enough to tip a step near the knee over, so use it below the knee.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
_THREAD = re.compile(r"\s*0x[0-9a-f]+\s+(\d+)\s+(\S+)\s+started at \[\s*\d+\]\s+(\S+)")


@dataclass(frozen=True)
class KindCost:
    kind: str
    cpu_s: float
    threads: int


def thread_kinds(text: str) -> dict[int, str]:
    """LWP -> kind (starting function and its source file) from ``core show threads``."""
    kinds: dict[int, str] = {}
    for line in text.splitlines():
        match = _THREAD.match(line)
        if match:
            kinds[int(match.group(1))] = f"{match.group(2)} ({match.group(3)})"
    return kinds


def task_ticks(pid: int) -> dict[int, tuple[str, int]]:
    """TID -> (command name, utime + stime ticks) of every thread of ``pid`` now."""
    ticks: dict[int, tuple[str, int]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return ticks
    for tid in tids:
        try:
            stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        ticks[int(tid)] = (name, int(rest[11]) + int(rest[12]))
    return ticks


def by_kind(first: dict[int, tuple[str, int]], samples: Iterable[dict[int, tuple[str, int]]],
            kinds: dict[int, str]) -> list[KindCost]:
    """Each thread's CPU over the samples (from ``first``, or from 0 for a thread born after it), added up by
    kind; a thread ``core show threads`` never listed counts under its command name. Most CPU first."""
    last: dict[int, tuple[str, int]] = {}
    for sample in samples:
        for tid, (name, ticks) in sample.items():
            if ticks >= last.get(tid, (name, -1))[1]:
                last[tid] = (name, ticks)
    cpu: dict[str, float] = {}
    count: dict[str, int] = {}
    for tid, (name, ticks) in last.items():
        kind = kinds.get(tid, f"({name})")
        cpu[kind] = cpu.get(kind, 0.0) + (ticks - first.get(tid, (name, 0))[1]) / TICKS
        count[kind] = count.get(kind, 0) + 1
    return sorted((KindCost(k, round(v, 2), count[k]) for k, v in cpu.items()), key=lambda c: -c.cpu_s)


def find_asterisk(instance: str) -> tuple[int, str] | None:
    """(pid, ``-C`` config file) of the Asterisk running instance ``instance`` (not a remote console)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"asterisk") and b"-C" in argv and b"-rx" not in argv:
            conf = argv[argv.index(b"-C") + 1].decode()
            if f"/{instance}/" in conf:
                return int(entry), conf
    return None


def sample(pid: int, conf: str, seconds: float, period: float = 0.5, list_every: int = 4) -> list[KindCost]:
    root = os.path.realpath(f"/proc/{pid}/root")

    def listing() -> str:
        return subprocess.run(["chroot", root, "asterisk", "-C", conf, "-rx", "core show threads"],
                              capture_output=True, text=True, timeout=10, check=False).stdout

    kinds = thread_kinds(listing())
    first = task_ticks(pid)
    samples: list[dict[int, tuple[str, int]]] = []
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        samples.append(task_ticks(pid))
        n += 1
        if n % list_every == 0:
            kinds.update(thread_kinds(listing()))
        time.sleep(period)
    return by_kind(first, samples, kinds)


def table(costs: Sequence[KindCost]) -> str:
    total = sum(c.cpu_s for c in costs) or 1.0
    lines = ["| thread kind | CPU s | share | threads |", "|---|---:|---:|---:|"]
    lines += [f"| {c.kind} | {c.cpu_s:.2f} | {c.cpu_s / total:.1%} | {c.threads} |" for c in costs if c.cpu_s > 0]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instance", default="benchj")
    parser.add_argument("--seconds", type=float, default=50.0)
    args = parser.parse_args(argv)
    found = find_asterisk(args.instance)
    if found is None:
        parser.error(f"no Asterisk running instance {args.instance!r}")
    print(table(sample(*found, args.seconds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
