"""`any_of`: many ids as one array parameter on PostgreSQL (one statement text for any count), `IN` on SQLite."""

from __future__ import annotations

import sqlalchemy as sa

from builder.storage.row_batches import any_of


def test_any_of_matches_the_given_values_with_one_statement_for_any_count(engine):
    meta = sa.MetaData()
    table = sa.Table("numbers", meta, sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("name", sa.Text))
    meta.create_all(engine)
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    with engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "name": f"n{i}"} for i in range(1, 401)])
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        with engine.connect() as conn:
            few = conn.execute(sa.select(table.c.name).where(any_of(conn, table.c.id, [3, 5, 999]))).scalars().all()
            many = conn.execute(sa.select(table.c.id).where(any_of(conn, table.c.id, list(range(1, 301))))).all()
            none = conn.execute(sa.select(table.c.id).where(any_of(conn, table.c.id, []))).all()
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)
    assert sorted(few) == ["n3", "n5"] and len(many) == 300 and none == []
    if engine.dialect.name == "postgresql":
        assert len({s.replace("table.c.name", "") for s in seen}) == 2  # the id query's text is the same for 3 and 300
        assert all("= ANY (" in s for s in seen)
