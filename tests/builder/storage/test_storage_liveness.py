"""Pooled PostgreSQL connections: pinged only after sitting idle, and a dead one is replaced unseen."""

from __future__ import annotations

import time

import psycopg
import sqlalchemy as sa

from builder.storage.database import make_engine
from builder.storage.liveness import ping_after_idle


def _pings(engine: sa.Engine) -> list[int]:
    """Count the dialect's pings (the checkout listener calls `do_ping`)."""
    seen: list[int] = []
    ping = engine.dialect.do_ping

    def counting(dbapi_connection):
        seen.append(1)
        return ping(dbapi_connection)

    engine.dialect.do_ping = counting  # type: ignore[method-assign]
    return seen


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_handed_back_a_moment_ago_is_not_pinged(postgres_url):
    engine = make_engine(postgres_url)
    pings = _pings(engine)
    try:
        for _ in range(5):
            _backend_pid(engine)
        assert pings == []  # the reachability check left it in the pool a moment ago
    finally:
        engine.dispose()


def test_a_connection_killed_while_idle_is_replaced_before_anyone_uses_it(postgres_url):
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"), pool_size=1)
    ping_after_idle(engine, idle_seconds=0.2)
    pings = _pings(engine)
    try:
        first = _backend_pid(engine)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        time.sleep(0.3)
        second = _backend_pid(engine)  # no OperationalError: the ping found it dead and the pool reconnected
        assert second != first
        assert len(pings) >= 2  # the new connection's first checkout and the dead one's
    finally:
        engine.dispose()


def test_without_the_idle_ping_the_killed_connection_would_have_failed(postgres_url):
    """The control: the same kill with a long idle window reaches the caller, so the test above can fail."""
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"), pool_size=1)
    ping_after_idle(engine, idle_seconds=60)
    try:
        _backend_pid(engine)
        first = _backend_pid(engine)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        time.sleep(0.3)
        try:
            _backend_pid(engine)
        except sa.exc.OperationalError:
            failed = True
        else:
            failed = False
        assert failed
        assert _backend_pid(engine) != first  # and the pool recovers on the next checkout
    finally:
        engine.dispose()
