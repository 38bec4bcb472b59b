"""Turning values into words callers hear (engine.speech.mandarin); pure functions, no I/O."""
