"""The call journal: SQLAlchemy tables, migrations, the journal writer and read models for the CLI.

tables.py    the schema (``calls`` projection + append-only ``call_events``)
database.py  engine construction and the reachability/schema check
migrate.py   Alembic upgrade driven from code (``hotline db upgrade``)
journal.py   JournalWriter: buffered, never-blocking, spill-to-file on outage
queries.py   read models: recent calls, one call, its events
"""
