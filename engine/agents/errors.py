"""Domain errors of agent provisioning (all exit 1 in the CLI), below engine.errors.DomainError.

    DomainError
    ├── AgentNotFound   no active agent has this work number              (agent-not-found)
    ├── AgentExists     an active agent already has this work number      (agent-exists)
    └── BadAgent        a work number, name, skill or tier is not valid   (bad-agent)
"""

from __future__ import annotations

from engine.errors import DomainError


class AgentNotFound(DomainError):
    code = "agent-not-found"


class AgentExists(DomainError):
    code = "agent-exists"


class BadAgent(DomainError):
    code = "bad-agent"
