"""Tests against a real PostgreSQL server (marker ``postgres``)."""
