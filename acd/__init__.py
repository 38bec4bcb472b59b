"""Automatic call distribution: agents, queues, routing and overflow (filled in by the ACD issue)."""
