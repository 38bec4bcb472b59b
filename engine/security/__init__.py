"""Protections of the PBX against hostile SIP peers (failed-authentication bans)."""
