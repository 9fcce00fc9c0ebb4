"""Audit entries for signing in and out, which happen outside the record service.

The name typed is recorded for failures (so an operator sees who was targeted);
the password never is.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from builder.records import Actor
from builder.records.auditing import audit_row
from builder.system_tables import audit


def record_sign_in_event(
    engine: sa.Engine,
    action: str,
    name: str,
    role: str | None,
    address: str | None,
    at: dt.datetime,
    detail: str | None = None,
) -> None:
    """Write one `login`, `login_failed` or `logout` entry.

    `at` comes from the security clock: naive times there are the machine's local
    time, so they are made aware here and stored in UTC like every audit entry.
    """
    actor = Actor(id=None, name=name[:64], role=role or "", address=address)
    values = audit_row(actor, action, None, None, at if at.tzinfo else at.astimezone(), detail=detail)
    values["role"] = role
    with engine.begin() as conn:
        conn.execute(audit.insert().values(**values))
