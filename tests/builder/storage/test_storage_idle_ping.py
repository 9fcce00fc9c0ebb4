"""PostgreSQL: a pooled connection is pinged before use only after it has been idle a while.

A page checks out about ten connections in a few milliseconds; pinging each was a third of
its round trips. An idle one is still checked (and replaced when the server closed it); one
returned moments ago is trusted, and if the server went away just then the request fails
once and the pool is renewed.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

import builder.storage.database as database
from builder.storage.database import make_engine

pytestmark = pytest.mark.postgres


def _backend_of(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(url: str, pid: int) -> None:
    killer = make_engine(url)
    try:
        with killer.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            conn.commit()
    finally:
        killer.dispose()


def test_an_idle_pooled_connection_closed_by_the_server_is_replaced_before_use(postgres_url, monkeypatch):
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 0.0)
    engine = make_engine(postgres_url)
    try:
        first = _backend_of(engine)
        _terminate(postgres_url, first)
        assert _backend_of(engine) != first  # the ping found it dead; the request never saw it
    finally:
        engine.dispose()


def test_a_connection_returned_moments_ago_is_used_without_a_ping(postgres_url, monkeypatch):
    monkeypatch.setattr(database, "PING_AFTER_IDLE_SECONDS", 3600.0)
    engine = make_engine(postgres_url)
    try:
        first = _backend_of(engine)
        _terminate(postgres_url, first)
        with pytest.raises(sa.exc.OperationalError):  # no ping: the dead connection is used and fails
            _backend_of(engine)
        assert _backend_of(engine) != first  # and the pool was renewed for the next request
    finally:
        engine.dispose()
