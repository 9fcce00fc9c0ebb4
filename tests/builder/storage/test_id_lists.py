"""`among`: the same rows as an IN list, as one array parameter (one statement text) on PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa

from builder.storage.id_lists import among

META = sa.MetaData()
THINGS = sa.Table("things", META, sa.Column("id", sa.BigInteger, primary_key=True), sa.Column("name", sa.String(8)))


def test_among_finds_the_listed_ids_with_one_statement_text_whatever_their_number(engine):
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(THINGS.insert(), [{"id": i, "name": f"n{i}"} for i in range(1, 301)])
    texts = set()
    sa.event.listen(engine, "before_cursor_execute", lambda c, cur, statement, *a: texts.add(statement))
    with engine.connect() as conn:
        for wanted in ([5], [1, 2, 3], list(range(100, 300, 2)), [299, 2**40]):
            found = conn.execute(sa.select(THINGS.c.id).where(among(conn, THINGS.c.id, wanted))).scalars().all()
            assert sorted(found) == sorted(i for i in wanted if i <= 300)
        assert conn.execute(sa.select(THINGS.c.id).where(among(conn, THINGS.c.id, []))).all() == []
    if engine.dialect.name == "postgresql":
        assert len(texts) == 1, texts
