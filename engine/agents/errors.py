"""Domain errors of agent provisioning (all exit 1 in the CLI), below engine.errors.DomainError.

    DomainError
    ├── AgentNotFound   no active agent has this work number              (agent-not-found)
    ├── AgentExists     an active agent already has this work number      (agent-exists)
    ├── BadAgent        a work number, name, skill or tier is not valid   (bad-agent)
    └── BadAgentFile    rows of an agents file are not valid; one ``file:line: message`` each
                        (bad-agent-file); nothing of the file was imported
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.errors import DomainError


class AgentNotFound(DomainError):
    code = "agent-not-found"


class AgentExists(DomainError):
    code = "agent-exists"


class BadAgent(DomainError):
    code = "bad-agent"


class BadAgentFile(DomainError):
    code = "bad-agent-file"

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
