"""Prompts callers hear: their texts (catalog) and how they become sound files (build)."""
