"""A list request's statements are kept and reused (list_statements.py): never its rows, never another user's.

Users with a row filter asking the same list in turn: test_rowfilter_kept.py (clinic) and
tests/verticals/test_physio_list_statements.py (the second vertical, through the API).
"""

from __future__ import annotations

from builder.records import SYSTEM
from builder.records.list_statements import ListStatements
from builder.records.querying import ListQueries, ListQuery


def test_the_same_list_again_reuses_its_statements_and_shows_new_records(service):
    service.create(SYSTEM, "patient", {"name": "王芳", "phone": "13800138000", "stage": "active"})
    kept = service._list_statements._kept
    first = service.list(SYSTEM, "patient", filters={"stage": "active"}, sort="name")
    assert [item["name"] for item in first.items] == ["王芳"] and first.total == 1
    assert len(kept) == 1
    statements = next(iter(kept.values()))
    service.create(SYSTEM, "patient", {"name": "李雷", "phone": "13800138001", "stage": "active"})
    again = service.list(SYSTEM, "patient", filters={"stage": "active"}, sort="name")
    assert [item["name"] for item in again.items] == ["李雷", "王芳"] and again.total == 2  # statements, not rows
    assert len(kept) == 1 and next(iter(kept.values())) is statements
    other = service.list(SYSTEM, "patient", filters={"stage": "lead"}, sort="name")
    assert other.items == [] and len(kept) == 2


def test_paging_given_as_text_is_normalised_when_the_statements_are_reused(service):
    for n in range(3):
        service.create(SYSTEM, "patient", {"name": f"患者{n}", "phone": f"1380013800{n}"})
    for _ in range(2):  # built, then kept: both times the page is 2 rows and says more follow
        page = service.list(SYSTEM, "patient", sort="name", limit="2", offset="0")  # type: ignore[arg-type]
        assert [item["name"] for item in page.items] == ["患者0", "患者1"]
        assert page.limit == 2 and page.offset == 0 and page.total == 3


def test_a_refused_request_is_refused_every_time_and_nothing_is_kept(service):
    import pytest

    from builder.records import ValidationFailed

    for _ in range(2):
        with pytest.raises(ValidationFailed):
            service.list(SYSTEM, "patient", sort="no_such_field")
    assert service._list_statements._kept == {}


def test_at_most_size_requests_are_kept():
    statements = ListStatements(size=2)
    built: list[str] = []

    def build(name: str):
        def make() -> ListQueries:
            built.append(name)
            return ListQueries(page=None, matches=None, order=[])  # type: ignore[arg-type]

        return make

    for name in ("a", "b", "a", "c", "a"):
        statements.get("patient", None, None, ListQuery(filters={"stage": name}), build(name))
    assert built == ["a", "b", "c", "a"]  # "a" kept once; "c" found two kept and started afresh
    assert len(statements._kept) <= 2
    statements.get("patient", None, None, ListQuery(filters={"ids": [1, 2]}), build("list"))
    statements.get("patient", None, None, ListQuery(filters={"ids": [1, 2]}), build("list"))
    assert built[-2:] == ["list", "list"]  # a value that cannot be a key: built each time, never kept
