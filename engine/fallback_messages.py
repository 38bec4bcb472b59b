"""Messages callers left on the dialplan fallback (no controller), turned into work items.

The fallback context (dialplan/hotline.conf.j2) records into the recordings folder under
``fallback-<call uid>.wav`` (engine.pbx.layout). When the controller reads that call's CDR line
(engine.fallback_journal), `FallbackMessages.save` locks the file down (0600), measures it and inserts one
row in ``messages`` with the caller's number. The file name is the key: a CDR line read twice (controller
killed between the insert and the offset commit) never makes a second message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import sqlalchemy
from sqlalchemy import insert, select

from engine.fallback_journal import FallbackCall, SavedMessage
from engine.queueing.recording_files import settle_recording
from engine.store.message_tables import messages

log = logging.getLogger(__name__)
# Below this a "message" is the beep and the caller hanging up: not a work item for anybody.
MIN_MESSAGE_SECONDS = 0.5


class FallbackMessages:
    def __init__(self, db: sqlalchemy.Engine, file_for: Callable[[str], Path], now: Callable[[], datetime]) -> None:
        self.db = db
        self.file_for = file_for
        self.now = now

    def save(self, call: FallbackCall) -> SavedMessage | None:
        """The message ``call`` left, saved once; None when the caller left none (or it is saved already)."""
        path = self.file_for(call.uid)
        if not path.exists():
            return None
        with self.db.connect() as conn:
            if conn.execute(select(messages.c.id).where(messages.c.file == str(path))).first() is not None:
                return None
        # The CDR line is written when the channel is gone, so Asterisk has closed the file: no long wait.
        facts = settle_recording(path, waits=2)
        if facts is None:
            return None
        seconds, checksum = facts
        if seconds < MIN_MESSAGE_SECONDS:
            path.unlink(missing_ok=True)
            return None
        with self.db.begin() as conn:
            result = conn.execute(insert(messages).values(
                call_uid=call.uid, caller=call.caller, queue=None, file=str(path), seconds=seconds,
                sha256=checksum, created_at=self.now()))
        message_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        log.info("message %d (%.1f s) left on the fallback path saved as a work item", message_id, seconds)
        return SavedMessage(message_id, seconds)
