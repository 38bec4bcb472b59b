"""The flow files' own prompt texts as catalog ``Prompt`` objects, so `hotline prompts build` renders them.

A prompt named in several flows must read the same everywhere (it is one sound file); a flow prompt
without an English text is rendered from its Mandarin text in both languages. Prompts the engine's
catalog already has are left to the catalog (``ivr_flows.check`` refuses a differing text).
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.prompts.catalog import BY_NAME, Prompt
from ivr_flows.errors import FlowError, Problem
from ivr_flows.model import Flow, FlowPrompt


def flow_prompts(flows: Iterable[Flow]) -> tuple[Prompt, ...]:
    """Every prompt text of ``flows`` not already in the catalog, sorted by name; FlowError on conflicts."""
    found: dict[str, FlowPrompt] = {}
    problems: list[Problem] = []
    for flow in flows:
        for prompt in flow.prompts.values():
            first = found.setdefault(prompt.name, prompt)
            if (first.zh, first.en) != (prompt.zh, prompt.en):
                problems.append(Problem(prompt.file, prompt.line, f"prompt '{prompt.name}' has another text in "
                                                                  f"{first.file}:{first.line}"))
    if problems:
        raise FlowError(problems)
    return tuple(Prompt(p.name, p.zh, p.en or p.zh) for name, p in sorted(found.items()) if name not in BY_NAME)
