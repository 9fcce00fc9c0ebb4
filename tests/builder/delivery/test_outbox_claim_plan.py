"""A claim reads the backlog in order and stops at its batch, however many messages wait.

With only an index on (status, next_attempt_at), the three due statuses made PostgreSQL read
and sort every waiting row for each claim of 50. The partial index ix_crm_outbox_queue is
read in order; the statuses are literal in the SQL so that a prepared statement's generic
plan, which PostgreSQL switches to after a few runs, can use it too.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
import sqlalchemy as sa

from builder.delivery.job import due_rows
from builder.storage.database import make_engine
from builder.system_tables import create_system_tables, outbox

NOW = dt.datetime(2026, 12, 1, 9, 0)


def _backlog(engine: sa.Engine, waiting: int, sent: int) -> None:
    def row(i: int, status: str) -> dict:
        return dict(
            key=f"k{status}{i}",
            automation="a",
            channel="sms",
            template="t",
            entity="patient",
            record_id=i,
            recipient="record",
            status=status,
            attempts=0,
            next_attempt_at=NOW - dt.timedelta(seconds=i % 600),
            created_at=NOW,
        )

    with engine.begin() as conn:
        conn.execute(outbox.insert(), [row(i, "sent") for i in range(sent)])
        conn.execute(outbox.insert(), [row(i, "pending") for i in range(waiting)])


def _plan(conn: sa.Connection, query: sa.Select, mode: str) -> str:
    """The plan of `query` prepared on the server (PREPARE/EXECUTE), with `plan_cache_mode` set to `mode`."""
    compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    sql, values, kinds = str(compiled), [], []
    for name in re.findall(r"%\((\w+)\)s", sql):
        values.append(compiled.params[name])
        kinds.append({dt.datetime: "timestamp", int: "bigint", str: "text"}[type(values[-1])])
        sql = sql.replace(f"%({name})s", f"${len(values)}::{kinds[-1]}", 1)
    conn.exec_driver_sql(f"SET plan_cache_mode = {mode}")
    conn.exec_driver_sql("DEALLOCATE ALL")
    conn.exec_driver_sql("PREPARE claim AS " + sql)
    arguments = ", ".join(f"'{value}'::{kind}" for value, kind in zip(values, kinds, strict=True))  # test constants
    result = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) EXECUTE claim({arguments})")
    return json.dumps(result.scalar_one())


@pytest.mark.postgres
def test_the_claim_reads_the_queue_index_in_order_even_as_a_generic_plan(postgres_url):
    engine = make_engine(postgres_url)
    try:
        create_system_tables(engine)
        _backlog(engine, waiting=20_000, sent=20_000)
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE crm_outbox")
            for mode in ("force_custom_plan", "force_generic_plan"):
                plan = _plan(conn, due_rows(NOW, 50).with_for_update(skip_locked=True), mode)
                assert "ix_crm_outbox_queue" in plan and '"Sort"' not in plan, (mode, plan)
    finally:
        engine.dispose()


def test_the_claim_takes_the_oldest_due_rows_first(engine):
    create_system_tables(engine)
    _backlog(engine, waiting=30, sent=30)
    with engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.record_id == 5).values(status="failed"))
        ids = conn.execute(due_rows(NOW, 5)).scalars().all()
        rows = {r.id: r for r in conn.execute(sa.select(outbox).where(outbox.c.id.in_(ids)))}
    assert all(rows[i].status in ("pending", "failed") for i in ids)
    moments = [rows[i].next_attempt_at for i in ids]
    assert moments == sorted(moments) and moments[0] == NOW - dt.timedelta(seconds=29)
