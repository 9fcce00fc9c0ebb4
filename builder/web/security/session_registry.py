"""Signed-in sessions, remembered server-side so signing out really ends them.

The cookie alone proves who signed in; this table decides whether that sign-in is
still valid. Signing out ends the row, so a copied cookie stops working at once,
and every session ends after `session_max_hours` however active it is. Only a hash
of the session id is stored: a copy of the table opens no session.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import sqlalchemy as sa

from builder.storage.database import reading
from builder.system_tables import sessions


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def open_session(engine: sa.Engine, sid: str, user_id: int, now: dt.datetime) -> None:
    """Remember a new sign-in."""
    with engine.begin() as conn:
        conn.execute(sessions.insert().values(sid_hash=_hash(sid), user_id=user_id, created_at=now))


def end_session(engine: sa.Engine, sid: str, now: dt.datetime) -> None:
    """Sign-out: the session can never be used again."""
    with engine.begin() as conn:
        conn.execute(
            sessions.update()
            .where(sessions.c.sid_hash == _hash(sid), sessions.c.ended_at.is_(None))
            .values(ended_at=now)
        )


def session_is_live(engine: sa.Engine, sid: str, user_id: int, now: dt.datetime, max_age: dt.timedelta) -> bool:
    """True while the sign-in exists for this user, has not ended and is younger than `max_age`."""
    with reading(engine) as conn:
        row = conn.execute(
            sa.select(sessions.c.user_id, sessions.c.created_at, sessions.c.ended_at).where(
                sessions.c.sid_hash == _hash(sid)
            )
        ).first()
    return row is not None and row.user_id == user_id and row.ended_at is None and now - row.created_at < max_age
