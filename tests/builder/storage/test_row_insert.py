"""One row's INSERT sent as the driver's SQL (row_insert.py) stores what SQLAlchemy's own INSERT stores.

The record service creates every record through it, so each column type the schema uses must arrive
as SQLAlchemy would send it (dates and booleans on SQLite, JSON, decimals), the id must be the row's,
and a constraint's refusal must still be SQLAlchemy's IntegrityError, with the parameters hidden.
"""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
import sqlalchemy as sa

from builder.storage.row_insert import RowInsert, RowInserts

METADATA = sa.MetaData()
THINGS = sa.Table(
    "thing",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(40), unique=True),
    sa.Column("born", sa.Date),
    sa.Column("seen_at", sa.DateTime),
    sa.Column("active", sa.Boolean),
    sa.Column("price", sa.Numeric(10, 2)),
    sa.Column("score", sa.Float),
    sa.Column("count", sa.Integer),
    sa.Column("tags", sa.JSON),
    sa.Column("note", sa.Text, server_default="none given"),
)
VALUES = {
    "name": "王芳 %(x)s ? :y",  # the driver's placeholders inside a value are only text
    "born": dt.date(1960, 2, 29),
    "seen_at": dt.datetime(2026, 11, 30, 8, 15, 30, 123456),
    "active": True,
    "price": decimal.Decimal("12.50"),
    "score": 0.25,
    "count": 7,
    "tags": ["a", {"b": [1, None]}],
}


@pytest.fixture
def things(engine):
    METADATA.create_all(engine)
    yield engine
    METADATA.drop_all(engine)


def stored(conn: sa.Connection, record_id: int) -> dict:
    row = conn.execute(sa.select(THINGS).where(THINGS.c.id == record_id)).one()._asdict()
    del row["id"]
    return row


def test_the_driver_insert_stores_what_sqlalchemy_stores(things):
    with things.begin() as conn:
        by_sqlalchemy = conn.execute(THINGS.insert(), VALUES).inserted_primary_key[0]
        by_driver = RowInserts().insert(conn, THINGS, {**VALUES, "name": "李娜"})
        assert by_driver != by_sqlalchemy
        assert stored(conn, by_driver) == {**stored(conn, by_sqlalchemy), "name": "李娜"}
        assert stored(conn, by_driver)["note"] == "none given"  # a column left out gets its default
        partial = RowInserts().insert(conn, THINGS, {"name": "张伟", "active": False, "tags": None})
        assert stored(conn, partial) == {
            **dict.fromkeys(VALUES, None),
            "name": "张伟",
            "active": False,
            "note": "none given",
        }


def test_a_refused_row_is_sqlalchemys_integrity_error_with_its_parameters_hidden(things):
    inserts = RowInserts()
    with things.begin() as conn:
        inserts.insert(conn, THINGS, {"name": "13912345678"})
        with pytest.raises(sa.exc.IntegrityError) as refused, conn.begin_nested():
            inserts.insert(conn, THINGS, {"name": "13912345678"})
        # the engine's parameters stay hidden (PostgreSQL's own DETAIL names the value, as for any INSERT;
        # the record service turns the error into a field message)
        assert "parameters hidden" in str(refused.value)
        assert inserts.insert(conn, THINGS, {"name": "13800005678"}) > 0  # the transaction goes on


def test_statements_are_kept_per_set_of_columns_and_bounded(things, monkeypatch):
    inserts = RowInserts()
    monkeypatch.setattr(RowInserts, "KEPT", 3)
    with things.begin() as conn:
        for n in range(5):
            inserts.insert(conn, THINGS, {"name": f"n{n}", "count": n})
        assert len(inserts._kept) == 1
        for column in ("born", "score", "price", "active"):
            inserts.insert(conn, THINGS, {"name": column, column: None})
        assert 1 <= len(inserts._kept) <= 3
        assert conn.execute(sa.select(sa.func.count()).select_from(THINGS)).scalar() == 9


def test_a_column_the_table_lacks_is_refused_when_compiled(engine):
    with pytest.raises(sa.exc.CompileError, match="nickname"):
        RowInsert(THINGS, ["name", "nickname"], engine.dialect)
