"""Pooled PostgreSQL connections are checked to be alive only after they sat idle.

SQLAlchemy's `pool_pre_ping` sends a `SELECT 1` on every checkout: a round trip before
each request, and before each of a worker's three transactions per batch (a quarter of
its round trips). A connection handed back a moment ago is as alive as the server is;
one that sat in the pool may have been cut by a server restart, a failover or an idle
timeout, which is what the ping is for. So the ping is sent only when the connection
was idle for longer than `IDLE_SECONDS` (or is new to this pool). A failed ping raises
`DisconnectionError`, on which the pool throws the connection away and opens another:
the caller never sees the dead one.

The window this leaves: a server that restarts while a connection sits idle for less
than `IDLE_SECONDS` fails the next statement on it, once; SQLAlchemy then invalidates
the pool, and every writer here is one transaction that rolls back whole (a worker's
round is tried again in the next round, a request gets a 503). A pre-ping on every
checkout has the same window between the ping and the statement.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

IDLE_SECONDS = 2.0
_IDLE_SINCE = "crm_idle_since"


def ping_after_idle(engine: sa.Engine, idle_seconds: float = IDLE_SECONDS) -> None:
    """Register the checkin/checkout listeners on `engine` (PostgreSQL; SQLite files need no ping)."""
    dialect = engine.dialect

    def checked_in(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is not None and time.monotonic() - since < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure: the connection is not usable
            raise sa.exc.DisconnectionError("the pooled connection did not answer") from exc

    sa.event.listen(engine, "checkin", checked_in)
    sa.event.listen(engine, "checkout", checked_out)
