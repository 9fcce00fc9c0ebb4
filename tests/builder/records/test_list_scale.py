"""Lists that scale: counts chosen per request, keyset paging, and sparse fields (issue 12)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from builder.records import SYSTEM, Actor, ValidationFailed, counting

PHONES = iter(range(10_000))


def _patients(service, count: int, **values) -> list[int]:
    return [
        service.create(
            SYSTEM,
            "patient",
            {"name": f"P{i:03d}", "phone": f"1380000{next(PHONES):04d}", "gender": "female", **values},
        )["id"]
        for i in range(count)
    ]


def test_counts_are_exact_when_cheap_and_say_what_they_are_otherwise(service, monkeypatch, database_url):
    _patients(service, 7)
    assert (lambda p: (p.total, p.total_kind))(service.list(SYSTEM, "patient")) == (7, "exact")
    monkeypatch.setattr(counting, "COUNT_CAP", 5)  # pretend 7 is a lot
    page = service.list(SYSTEM, "patient", limit=2)
    if database_url.startswith("postgresql"):
        assert page.total_kind == "estimate" and page.total >= 6  # the planner's guess, never below what was seen
    else:
        assert (page.total, page.total_kind) == (5, "at_least")  # "5+"
    assert (lambda p: (p.total, p.total_kind))(service.list(SYSTEM, "patient", count="exact")) == (7, "exact")
    uncounted = service.list(SYSTEM, "patient", count="none", limit=3)
    assert (uncounted.total, uncounted.total_kind, len(uncounted.items)) == (None, "none", 3)
    with pytest.raises(ValidationFailed):
        service.list(SYSTEM, "patient", count="roughly")


def test_a_role_with_a_row_filter_never_gets_the_planners_estimate(service, monkeypatch, database_url):
    """The planner guesses from statistics over every row, hidden ones too: a side door, so it is not used.

    Marketing sees consenting patients only (none here); its count is counted, never estimated.
    """
    monkeypatch.setattr(counting, "COUNT_CAP", 3)
    _patients(service, 30)
    if database_url.startswith("postgresql"):
        with service.engine.connect() as conn:
            conn.execute(sa.text("ANALYZE patient"))
    marketing = Actor(9, "mk", "marketing", locale="en")
    for mode in ("auto", "estimate"):
        shown = service.list(marketing, "patient", count=mode)
        assert (shown.items, shown.total, shown.total_kind) == ([], 0, "exact")
    everyone = service.list(SYSTEM, "patient", count="estimate", limit=2)  # a page short of the end
    assert everyone.total_kind == ("estimate" if database_url.startswith("postgresql") else "at_least")


def test_keyset_pages_walk_the_whole_list_once_even_as_records_arrive(service):
    ids = _patients(service, 9)
    seen: list[int] = []
    page = service.list(SYSTEM, "patient", sort="name", limit=4)
    while True:
        seen += [r["id"] for r in page.items]
        if page.next_after is None:
            break
        _patients(service, 1, name="AAA new")  # sorts before every page still to come: must not shift them
        page = service.list(SYSTEM, "patient", sort="name", limit=4, after=page.next_after)
    assert seen == ids  # P000..P008 in name order, none twice, none missed


def test_keyset_follows_descending_sorts_with_empty_values_last(service):
    born = ["1980-01-01", None, "1990-01-01", None, "1970-01-01", "1990-01-01"]
    ids = [_patients(service, 1, birth_date=b)[0] for b in born]
    walked: list[int] = []
    cursor = None
    while True:
        page = service.list(SYSTEM, "patient", sort="-birth_date", limit=2, after=cursor)
        walked += [r["id"] for r in page.items]
        cursor = page.next_after
        if cursor is None:
            break
    assert walked == [r["id"] for r in service.list(SYSTEM, "patient", sort="-birth_date", limit=50).items]
    assert walked[-2:] == [ids[3], ids[1]]


@pytest.mark.parametrize("cursor", ["%%%", "WzFd", "eyJ4IjoxfQ", "W251bGwsIm5vdCBhbiBpZCJd", "x" * 3000])
def test_a_cursor_that_is_not_ours_is_a_clear_error(service, cursor):
    _patients(service, 2)
    with pytest.raises(ValidationFailed) as caught:
        service.list(SYSTEM, "patient", sort="name", after=cursor)
    assert caught.value.errors[0].field == "after"


def test_a_cursor_with_an_offset_is_refused(service):
    _patients(service, 3)
    cursor = service.list(SYSTEM, "patient", limit=1).next_after
    with pytest.raises(ValidationFailed):
        service.list(SYSTEM, "patient", limit=1, offset=1, after=cursor)


def test_sparse_fields_read_and_decrypt_only_what_is_shown(service):
    _patients(service, 1, id_number="110101199003074477", gender="male")
    statements: list[str] = []

    def capture(conn, cursor, statement, *args):
        statements.append(statement)

    sa.event.listen(service.engine, "before_cursor_execute", capture)
    try:
        page = service.list(SYSTEM, "patient", fields=["name"])
    finally:
        sa.event.remove(service.engine, "before_cursor_execute", capture)
    assert set(page.items[0]) == {"id", "name", "version", "created_at", "created_by", "updated_at", "updated_by"}
    page_query = next(s for s in statements if "ORDER BY" in s)
    assert "id_number" not in page_query and "phone" not in page_query
