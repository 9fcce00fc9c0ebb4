"""Many rows updated or inserted with their own values in one statement: the values land where they belong."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from builder.storage.row_batches import insert_rows, update_rows

META = sa.MetaData()
ITEMS = sa.Table(
    "items",
    META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(40), unique=True),
    sa.Column("status", sa.String(20)),
    sa.Column("note", sa.String(40), nullable=True),
    sa.Column("at", sa.DateTime, nullable=True),
    sa.Column("tries", sa.Integer),
)
TYPES = {"item": ITEMS.c.id.type, "new_status": ITEMS.c.status.type, "new_note": ITEMS.c.note.type}
MOMENT = dt.datetime(2026, 11, 30, 9, 30)


def _set_status(value):
    return ITEMS.update().where(ITEMS.c.id == value("item")).values(status=value("new_status"), note=value("new_note"))


def _rows(engine):
    with engine.connect() as conn:
        return {r.key: (r.status, r.note, r.at, r.tries) for r in conn.execute(sa.select(ITEMS)).all()}


def _stored(engine, count=4):
    META.create_all(engine)
    rows = [dict(key=f"k{i}", status="new", note=None, at=MOMENT, tries=0) for i in range(count)]
    with engine.begin() as conn:
        insert_rows(conn, ITEMS, rows, unique=["key"])
    return rows


def test_inserted_rows_keep_their_own_and_their_shared_values(engine):
    _stored(engine)
    with engine.begin() as conn:  # k0 is stored already: left out, not an error
        insert_rows(
            conn,
            ITEMS,
            [dict(key=k, status="new", note=None, at=MOMENT, tries=t) for k, t in (("k0", 9), ("k9", 2), ("k8", 3))],
            unique=["key"],
        )
    stored = _rows(engine)
    assert stored["k0"] == ("new", None, MOMENT, 0)
    assert stored["k9"] == ("new", None, MOMENT, 2)
    assert stored["k8"] == ("new", None, MOMENT, 3)
    assert len(stored) == 6


def test_updates_with_shared_varying_and_null_values(engine):
    _stored(engine)
    with engine.connect() as conn:
        ids = {r.key: r.id for r in conn.execute(sa.select(ITEMS.c.key, ITEMS.c.id))}
    with engine.begin() as conn:
        same = [{"item": ids[k], "new_status": "sent", "new_note": None} for k in ("k0", "k1")]
        assert update_rows(conn, same, TYPES, _set_status) == 2  # every column but the id holds one value
        mixed = [
            {"item": ids["k2"], "new_status": "failed", "new_note": "busy"},
            {"item": ids["k3"], "new_status": "dead", "new_note": "busy"},
        ]
        assert update_rows(conn, mixed, TYPES, _set_status) == 2
        one = [{"item": ids["k1"], "new_status": "sent", "new_note": "again"}]  # a batch of one: all "shared"
        assert update_rows(conn, one, TYPES, _set_status) == 1
    stored = _rows(engine)
    assert stored["k0"][:2] == ("sent", None)
    assert stored["k1"][:2] == ("sent", "again")
    assert stored["k2"][:2] == ("failed", "busy")
    assert stored["k3"][:2] == ("dead", "busy")
