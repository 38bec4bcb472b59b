"""The flows in force: loaded and checked at start, reloaded when a file changes.

The controller refuses to start on an invalid flow; a reload that fails is logged with every problem
(file:line) and the last good version keeps running, so an editing mistake never takes the hotline down.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ivr_flows.check import check_flow
from ivr_flows.errors import FlowError, Problem
from ivr_flows.loader import load_flows
from ivr_flows.model import Flow

log = logging.getLogger(__name__)
MAIN_FLOW = "hotline"


def load_checked(folder: Path) -> dict[str, Flow]:
    """Load every flow of ``folder`` and check it; FlowError listing every problem."""
    flows = load_flows(folder)
    problems: list[Problem] = [p for flow in flows.values() for p in check_flow(flow)]
    if not flows:
        problems.append(Problem(str(folder), 1, "no flow files (*.yaml) in this folder"))
    elif MAIN_FLOW not in flows:
        problems.append(Problem(str(folder), 1, f"no flow named '{MAIN_FLOW}' (the one callers enter)"))
    if problems:
        raise FlowError(sorted(problems))
    return flows


class FlowLibrary:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.flows = load_checked(folder)
        self._stamp = self._current_stamp()

    def _current_stamp(self) -> tuple[tuple[str, int, int], ...]:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in self.folder.glob("*.yaml")))

    @property
    def main(self) -> Flow:
        return self.flows[MAIN_FLOW]

    def reload_if_changed(self) -> bool:
        """Swap in the edited flows if they are valid; True when a new version is in force."""
        try:
            stamp = self._current_stamp()
        except OSError as exc:
            log.warning("cannot read the flows folder %s: %s", self.folder, exc)
            return False
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        try:
            flows = load_checked(self.folder)
        except FlowError as err:
            log.error("flow reload refused, the last good version stays in force:\n  %s",
                      "\n  ".join(str(p) for p in err.problems))
            return False
        self.flows = flows
        log.info("flows reloaded: %s", ", ".join(sorted(flows)))
        return True
