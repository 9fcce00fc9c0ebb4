"""Submissions to public forms, limited per address and per link in a sliding window.

Counted in `crm_public_attempt` (like sign-in attempts in `crm_login_attempt`), so
every process sharing the database agrees; a submission is counted before it is
looked at, in one step with the check, under the scope locks of its keys. Addresses
are stored hashed (keyed with the project's secret), never in clear.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import sqlalchemy as sa

from builder.storage.database import write_transaction
from builder.storage.locks import lock_scopes, scope_key
from builder.system_tables import public_attempts


class PublicThrottle:
    """`admit` counts one submission unless its address or its link is over the limit."""

    def __init__(
        self,
        engine: sa.Engine,
        per_address: int,
        per_token: int,
        window: dt.timedelta,
        clock: Callable[[], dt.datetime],
    ) -> None:
        if per_address < 1 or per_token < 1 or window <= dt.timedelta(0):
            raise ValueError("public form limits and window must be positive")
        self.engine = engine
        self.per_address = per_address
        self.per_token = per_token
        self.window = window
        self.clock = clock

    def admit(self, address_hash: str, token_key: str | None) -> bool:
        """Count one submission from `address_hash` (to link `token_key`); False, nothing counted, when over."""
        now = self.clock()
        keys = [("a:" + address_hash)[:80]] + ([("t:" + token_key)[:80]] if token_key else [])
        table = public_attempts
        recent = sa.select(sa.func.count()).select_from(table).where(table.c.at > now - self.window)
        with write_transaction(self.engine) as conn:
            lock_scopes(conn, [scope_key("public", key) for key in keys])
            for key, limit in zip(keys, (self.per_address, self.per_token), strict=False):
                if conn.execute(recent.where(table.c.key == key)).scalar_one() >= limit:
                    return False
            conn.execute(table.insert(), [{"at": now, "key": key} for key in keys])
            stale = sa.select(table.c.id).where(table.c.at <= now - self.window).with_for_update(skip_locked=True)
            conn.execute(table.delete().where(table.c.id.in_(stale.scalar_subquery())))
        return True
