"""The soak's write-up: Markdown for people, JSON for scripts (``bench/results/soak-<timestamp>.*``).

Input: the run's parameters, the controller kills, the verdicts and journal gaps of ``bench.soak_classify``.
Pure text building; ``bench.soak`` writes the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.soak_classify import CATEGORIES, Gap, JournalCall, Verdict, by_kind, count, readopted

LABELS = {"served_agent": "served by an agent", "served_self_service": "served by self-service",
          "message": "left a message", "abandoned": "abandoned (caller's own choice)",
          "fallback_only": "only on Asterisk (fallback, no controller)", "lost": "**lost**"}


@dataclass(frozen=True)
class Kill:
    at_s: float  # after the first caller was placed
    restart_s: float  # SIGKILL to the new controller logging "running"
    ok: bool = True


def to_json(params: Mapping[str, Any], kills: Sequence[Kill], verdicts: Sequence[Verdict], gaps: Sequence[Gap],
            journal: Sequence[JournalCall]) -> dict[str, Any]:
    lost = [v for v in verdicts if v.category == "lost"]
    events = {c.id: c.kinds() for c in journal}
    return {
        "params": dict(params),
        "totals": {**count(verdicts), "journal_calls": len(journal), "journal_gaps": len(gaps),
                   "kills": len(kills)},
        "by_kind": by_kind(verdicts),
        "readopted": readopted(verdicts),
        "kills": [asdict(k) for k in kills],
        "lost": [{**asdict(v), "events": {i: events.get(i, []) for i in v.call_ids}} for v in lost],
        "gaps": [asdict(g) for g in gaps],
        "calls": [asdict(v) for v in verdicts],
    }


def markdown(params: Mapping[str, Any], kills: Sequence[Kill], verdicts: Sequence[Verdict],
             gaps: Sequence[Gap]) -> str:
    totals = count(verdicts)
    taken_up = readopted(verdicts)
    lost, n_gaps = totals["lost"], len(gaps)
    restarts = [k.restart_s for k in kills if k.ok]
    lines = [
        f"# Soak {params['started']}",
        "",
        f"`{params['command']}`: {params['minutes']:g} min of callers at {params['rate']:g}/s, "
        f"{params['agents']} agents ({params['holding_agents']} holding), controller SIGKILLed every "
        f"{params['kill_every_s']:g} s and started again at once; {params['cpus']} cores, load average "
        f"{params['load_average_before'][0]:.2f} before, {params['load_average_after'][0]:.2f} after; "
        f"{params['duration_s'] / 60:.1f} min in all.",
        "",
        f"**{'PASS' if lost == 0 and n_gaps == 0 else 'FAIL'}**: {lost} lost callers (target 0), "
        f"{n_gaps} journal gaps (target 0), {len(kills)} kills"
        + (f", restart (kill to running) {min(restarts):.1f}-{max(restarts):.1f} s" if restarts else "")
        + ".",
        "",
        "| calls | count | of which re-adopted after a kill |",
        "|---|---:|---:|",
        f"| offered | {totals['offered']} | {sum(taken_up.values())} |",
        *(f"| {LABELS[c]} | {totals[c]} | {taken_up[c]} |" for c in CATEGORIES),
        f"| journal gaps | {n_gaps} | |",
        "",
        "| caller kind | " + " | ".join(LABELS[c].strip("*") for c in CATEGORIES) + " |",
        "|---|" + "---:|" * len(CATEGORIES),
    ]
    for kind, row in by_kind(verdicts).items():
        lines.append(f"| {kind} | " + " | ".join(str(row[c]) for c in CATEGORIES) + " |")
    if kills:
        lines += ["", "Kills (s after the first caller, restart s): "
                  + ", ".join(f"{k.at_s:.0f} ({k.restart_s:.1f}{'' if k.ok else ' FAILED'})" for k in kills)]
    lost_calls = [v for v in verdicts if v.category == "lost"]
    if lost_calls:
        lines += ["", "## Lost callers", "", "| caller | kind | journal calls | why |", "|---|---|---|---|"]
        lines += [f"| {v.number} | {v.kind} | {', '.join(map(str, v.call_ids)) or '-'} | {v.reason} |"
                  for v in lost_calls]
    if gaps:
        lines += ["", "## Journal gaps", "", "| call id | uid | problem |", "|---|---|---|"]
        lines += [f"| {g.call_id} | {g.uid} | {g.problem} |" for g in gaps]
    return "\n".join(lines)
