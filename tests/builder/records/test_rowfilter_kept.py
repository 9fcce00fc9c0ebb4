"""Row filters are compiled once per user and reused: each user still sees only their own rows."""

from __future__ import annotations

import sqlalchemy as sa

from builder.records import SYSTEM, Actor
from builder.records.rowfilter import RowFilters

META = sa.MetaData()
CASES = sa.Table(
    "cases",
    META,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("owner", sa.Integer),
    sa.Column("team", sa.String),
)
ROWS = [{"id": 1, "owner": 7, "team": "a"}, {"id": 2, "owner": 8, "team": "b"}, {"id": 3, "owner": 7, "team": "b"}]


def admitted(engine: sa.Engine, filters: RowFilters, source: str, user: dict) -> list[int]:
    clause = filters.clause(source, "cases", user)
    with engine.connect() as conn:
        return list(conn.execute(sa.select(CASES.c.id).where(clause).order_by(CASES.c.id)).scalars())


def test_kept_filters_follow_the_user_they_were_compiled_for():
    engine = sa.create_engine("sqlite://")
    META.create_all(engine)
    with engine.begin() as conn:
        conn.execute(CASES.insert(), ROWS)
    filters = RowFilters(lambda _: CASES, lambda e, f: None, size=2)
    mine = "owner == user.id"
    assert admitted(engine, filters, mine, {"id": 7}) == [1, 3]
    assert admitted(engine, filters, mine, {"id": 8}) == [2]
    assert admitted(engine, filters, mine, {"id": 7}) == [1, 3]  # kept, and still user 7's
    assert admitted(engine, filters, mine, {"id": None}) == []  # no id: nothing, not "owner is null"
    assert admitted(engine, filters, "team == 'b'", {"id": 7}) == [2, 3]  # beyond `size`: kept afresh
    assert admitted(engine, filters, mine, {"id": 8}) == [2]
    assert admitted(engine, filters, mine, {"id": 7, "teams": ["a"]}) == [1, 3]  # a list value: compiled each time


def test_two_doctors_listing_in_turn_each_see_only_their_appointments(service):
    from builder.accounts.users import add_user

    doctors = {}
    for name in ("li", "wang"):
        user = add_user(service.engine, name, "doctor", "a long enough password 1", roles=["doctor"])
        staff = service.create(SYSTEM, "staff", {"name": f"Dr {name}", "user": user.id})
        doctors[name] = (Actor(id=user.id, name=name, role="doctor"), staff["id"])
    patient = service.create(SYSTEM, "patient", {"name": "王芳", "phone": "13800138000"})
    for hour, name in ((9, "li"), (10, "wang"), (11, "li")):
        service.create(
            SYSTEM,
            "appointment",
            {"patient": patient["id"], "doctor": doctors[name][1], "starts_at": f"2026-12-01T{hour:02d}:00"},
        )

    def seen(name: str) -> set[int]:
        page = service.list(doctors[name][0], "appointment", sort="id")
        return {item["doctor"] for item in page.items}

    for name in ("li", "wang", "li", "wang"):
        assert seen(name) == {doctors[name][1]}
    assert len(service.list(doctors["li"][0], "appointment").items) == 2
