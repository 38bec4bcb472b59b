"""Caller-experience scripts the engine runs instead of an agent (message, silent call, hold, ...)."""
