"""Automatic call distribution, pure logic: no I/O, no asyncio, no Asterisk.

- ``acd.model``: ids (``AgentId`` = work number, ``QueueName``, ``CallUid``), ``Agent``, ``AgentStatus``.
- ``acd.state``: the agent state machine ``transition(status, event, now, policy)`` and ``next_deadline``.
- ``acd.queues``: ``queues.yaml`` (operators edit it) → ``QueueConfig``, problems as file:line.
- ``acd.routing``: queue order, eligibility, longest-idle choice, greedy assignment, expected wait.

The controller's ACD service (engine side) applies these through ARI and journals the changes.
"""
