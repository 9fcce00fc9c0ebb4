"""Row filters with constants on both sides (`record.*`, `user.*`): decided in Python, the rest in SQL."""

from __future__ import annotations

import sqlalchemy as sa

from builder.records.rowfilter import RowFilters, compile_row_filter

META = sa.MetaData()
STAFF = sa.Table(
    "staff",
    META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("department", sa.String),
    sa.Column("active", sa.Boolean),
)
ROWS = [{"id": 1, "department": "a", "active": True}, {"id": 2, "department": "b", "active": False}]


def admitted(source: str, record: dict | None = None, user: dict | None = None) -> list[int]:
    engine = sa.create_engine("sqlite://")
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(STAFF.insert(), ROWS)
        clause = compile_row_filter(source, "staff", lambda _: STAFF, lambda e, f: None, user or {}, record=record)
        return list(conn.execute(sa.select(STAFF.c.id).where(clause).order_by(STAFF.c.id)).scalars())


def test_a_record_value_is_a_constant():
    assert admitted("department == record.department", {"department": "b"}) == [2]
    assert admitted("record.department == department", {"department": "a"}) == [1]


def test_an_empty_record_value_matches_no_column_but_equals_null():
    assert admitted("department == record.department", {"department": None}) == []
    assert admitted("department != record.department", {"department": ""}) == []
    assert admitted("record.department == null or department == record.department", {"department": None}) == [1, 2]
    assert admitted("record.department == null or department == record.department", {"department": "a"}) == [1]


def test_constant_comparisons_and_fixed_conditions():
    assert admitted("active == true") == [1]
    assert admitted("user.role == 'admin' or active == true", user={"role": "admin"}) == [1, 2]
    assert admitted("user.role == 'admin' or active == true", user={"role": "nurse"}) == [1]
    assert admitted("record.n > 3 and active == false", {"n": 5}) == [2]
    assert admitted("record.kind in ['x', 'y']", {"kind": "y"}) == [1, 2]
    assert admitted("record.flag", {"flag": False}) == []


def test_kept_filters_follow_the_user_they_were_compiled_for():
    engine = sa.create_engine("sqlite://")
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(STAFF.insert(), ROWS)
    filters = RowFilters(lambda _: STAFF, lambda e, f: None, size=2)

    def admitted_by(source: str, user: dict) -> list[int]:
        with engine.connect() as conn:
            clause = filters.clause(source, "staff", user)
            return list(conn.execute(sa.select(STAFF.c.id).where(clause).order_by(STAFF.c.id)).scalars())

    mine = "department == user.department"
    assert admitted_by(mine, {"department": "a"}) == [1]
    assert admitted_by(mine, {"department": "b"}) == [2]
    assert admitted_by(mine, {"department": "a"}) == [1]  # kept, and still this user's
    assert admitted_by(mine, {"department": None}) == []  # no value: nothing, not "department is null"
    assert admitted_by("active == true", {"department": "a"}) == [1]  # beyond `size`: kept afresh
    assert admitted_by(mine, {"department": "b"}) == [2]
    assert admitted_by(mine, {"department": "b", "teams": ["x"]}) == [2]  # a list value: compiled each time
