"""`reading`: a read-only connection; on PostgreSQL in autocommit, one round trip a read (no BEGIN, no ROLLBACK)."""

from __future__ import annotations

import sqlalchemy as sa

from builder.storage.database import reading, write_transaction


def test_a_read_leaves_no_transaction_and_the_pool_gets_back_an_ordinary_connection(engine):
    with reading(engine) as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
        if engine.dialect.name == "postgresql":
            driver = conn.connection.driver_connection
            assert driver.autocommit and driver.info.transaction_status == 0  # IDLE: no BEGIN was sent
    with engine.connect() as conn:  # the same pooled connection, back to transactions
        conn.execute(sa.text("SELECT 1"))
        if engine.dialect.name == "postgresql":
            assert not conn.connection.driver_connection.autocommit
    with write_transaction(engine) as conn:  # writes still commit or roll back as one
        conn.execute(sa.text("CREATE TABLE kept (n INTEGER)"))
        conn.execute(sa.text("INSERT INTO kept VALUES (1)"))
    with reading(engine) as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM kept")).scalar_one() == 1
