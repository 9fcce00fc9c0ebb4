"""`count=auto` asks the planner before counting, and a page that shows the end is not counted (issue 12).

On PostgreSQL with real statistics (30,000 patients made with generate_series, then
ANALYZE): a set the planner expects to be large gets its estimate and is never counted;
a small one is counted exactly; a role with a row filter is never estimated. What ran is
read from the statements the engine executed, not from timings.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from builder.loading import load_blueprint
from builder.records import SYSTEM, Actor, RecordService, counting
from builder.storage.database import make_engine
from builder.storage.search_indexes import create_search_indexes
from builder.system_tables import create_system_tables
from tests.sent_sql import sent_statements

LOADED = load_blueprint("blueprints/clinic")
CLINIC = LOADED.blueprint

PATIENTS = 30_000  # 3,000 named 王…, 15,000 consenting to marketing, 20,000 active
MARKETING = Actor(9, "mk", "marketing", locale="en")  # row filter: consent_marketing == true


def counted(ran: list[str]) -> bool:
    """A count of its own ran (not one taken with a page: with_page)."""
    return any(s.lower().startswith("select count(*)") for s in ran)


def with_page(ran: list[str]) -> bool:
    """A page took its capped count along (a selective search's first page)."""
    return any(counting.CAPPED_COUNT in s for s in ran)


def estimated(ran: list[str]) -> bool:
    return any(s.startswith("EXPLAIN") for s in ran)


@pytest.fixture
def many(postgres_url, keyring) -> Iterator[RecordService]:
    engine = make_engine(postgres_url)
    records = RecordService(CLINIC.entities, engine, keyring, decision_tables=LOADED.decision_tables)
    records.schema.metadata.create_all(engine)
    create_system_tables(engine)
    with engine.begin() as conn:
        create_search_indexes(conn, CLINIC.entities)  # their statistics are the planner's (lower(name) for 王)
        conn.exec_driver_sql(
            "INSERT INTO patient (name, phone, gender, stage, consent_marketing, created_at, updated_at, version) "
            "SELECT CASE WHEN mod(i, 10) = 0 THEN '王' ELSE '李' END || i, '+86139' || lpad(i::text, 8, '0'), "
            "'female', CASE WHEN mod(i, 3) = 0 THEN 'lead' ELSE 'active' END, mod(i, 2) = 0, now(), now(), 1 "
            f"FROM generate_series(1, {PATIENTS}) AS i"
        )
        conn.exec_driver_sql("ANALYZE patient")
    yield records
    engine.dispose()


@pytest.mark.postgres
def test_a_set_the_planner_expects_to_be_large_is_estimated_not_counted(many):
    for filters in ({}, {"stage": "active"}):
        with sent_statements(many.engine) as ran:
            page = many.list(SYSTEM, "patient", filters=filters)
        expected = PATIENTS if not filters else 20_000
        assert page.total_kind == "estimate" and 0.8 * expected <= page.total <= 1.2 * expected
        assert estimated(ran) and not counted(ran)
        assert len(page.items) == 50 and page.next_after


@pytest.mark.postgres
def test_a_set_the_planner_expects_to_be_small_is_counted_exactly(many):
    with sent_statements(many.engine) as ran:
        page = many.list(SYSTEM, "patient", q="王")
    assert (page.total, page.total_kind) == (3_000, "exact")
    assert estimated(ran) and counted(ran)
    assert {r["name"][0] for r in page.items} == {"王"}


@pytest.mark.postgres
def test_the_other_modes_keep_their_meaning(many):
    exact = many.list(SYSTEM, "patient", count="exact", limit=1)
    assert (exact.total, exact.total_kind) == (PATIENTS, "exact")
    guessed = many.list(SYSTEM, "patient", q="王", count="estimate")
    assert guessed.total_kind == "estimate" and guessed.total > 50  # not counted, even though small
    with sent_statements(many.engine) as ran:
        uncounted = many.list(SYSTEM, "patient", count="none")
    assert (uncounted.total, uncounted.total_kind) == (None, "none") and not counted(ran) and not estimated(ran)


@pytest.mark.postgres
def test_a_role_with_a_row_filter_is_counted_up_to_the_cap_never_estimated(many):
    with sent_statements(many.engine) as ran:
        page = many.list(MARKETING, "patient")
    assert (page.total, page.total_kind) == (counting.COUNT_CAP, "at_least")  # 15,000 consenting: "10,000+"
    assert counted(ran) and not estimated(ran)
    assert all(r["stage"] in ("lead", "active") for r in page.items)


@pytest.mark.postgres
def test_the_last_page_gives_the_exact_total_without_counting(many):
    with sent_statements(many.engine) as ran:
        last = many.list(SYSTEM, "patient", offset=PATIENTS - 10)
        one = many.list(SYSTEM, "patient", q="13900000007")  # a whole phone: one match
    assert (last.total, last.total_kind, len(last.items)) == (PATIENTS, "exact", 10)
    assert (one.total, one.total_kind, [r["name"] for r in one.items]) == (1, "exact", ["李7"])
    assert not counted(ran) and not estimated(ran)
    past = many.list(SYSTEM, "patient", offset=PATIENTS + 10)  # past the end: the page says nothing
    assert past.items == [] and past.total_kind == "estimate"


def test_a_page_holding_every_match_is_not_counted_again(service):
    """Both databases: fewer rows than asked means the page is the whole answer."""
    for i in range(3):
        service.create(SYSTEM, "patient", {"name": f"P{i}", "phone": f"1380000{i:04d}", "gender": "female"})
    with sent_statements(service.engine) as ran:
        page = service.list(SYSTEM, "patient")
        none = service.list(SYSTEM, "patient", q="nobody")
    assert (page.total, page.total_kind, none.total, none.total_kind) == (3, "exact", 0, "exact")
    assert not counted(ran)
    with sent_statements(service.engine) as ran:
        only = service.list(SYSTEM, "patient", limit=0)  # no rows asked: counted
        cursor = service.list(SYSTEM, "patient", limit=2).next_after
        after = service.list(SYSTEM, "patient", limit=2, after=cursor)  # rows before the cursor are unknown
    assert (only.total, only.total_kind, after.total, len(after.items)) == (3, "exact", 3, 1)
    assert counted(ran)


@pytest.mark.postgres
def test_a_name_prefix_is_paged_and_counted_from_the_covering_index_alone(many):
    """The prefix index carries the name and id: the page's ids and the count need no table page."""
    with many.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO patient (name, phone, gender, created_at, updated_at, version) "
            "SELECT 'Qx' || i, '+86138' || lpad(i::text, 8, '0'), 'male', now(), now(), 1 "
            "FROM generate_series(1, 60) AS i"
        )
    with many.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM (ANALYZE) patient")  # all visible: what an index-only scan needs
    statement = many.list_statement(SYSTEM, "patient", q="qx")
    sql = str(statement.compile(dialect=many.engine.dialect, compile_kwargs={"literal_binds": True}))
    with many.engine.connect() as conn:
        plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql))
    assert "Index Only Scan using sx_patient_name_prefix" in plan
    with sent_statements(many.engine) as ran:
        page = many.list(SYSTEM, "patient", q="qx")
    assert (page.total, page.total_kind, page.items[0]["name"]) == (60, "exact", "Qx60")
    count = next(s for s in ran if "count(*)" in s.lower())
    assert "(SELECT 1 FROM patient WHERE" in " ".join(count.split())  # no column read: the index answers it


def selects(ran: list[str]) -> list[str]:
    return [s for s in ran if s.lstrip().upper().startswith(("SELECT", "EXPLAIN"))]


@pytest.mark.postgres
def test_a_selective_search_takes_its_page_and_capped_count_in_one_statement(many):
    """The last 4 digits and a 3+ character substring: no planner, no second statement for the count."""
    for q, total in (("0007", 3), ("李123", 100)):  # +86139…0007: i = 7, 10,007, 20,007; 李123, 李1231-9, 李12301-99
        with sent_statements(many.engine) as ran:
            page = many.list(SYSTEM, "patient", q=q, limit=2)
        assert (page.total, page.total_kind, len(page.items)) == (total, "exact", 2)
        assert len(selects(ran)) == 1 and with_page(ran) and not counted(ran) and not estimated(ran)
    with sent_statements(many.engine) as ran:
        second = many.list(SYSTEM, "patient", q="0007", limit=1, offset=1)  # not a first page: counted apart
    assert (second.total, second.total_kind) == (3, "exact")
    assert not with_page(ran) and counted(ran)
    with sent_statements(many.engine) as ran:
        short = many.list(SYSTEM, "patient", q="王1", limit=2)  # a prefix of 2 characters may match many: planner
    assert (short.total, short.total_kind) == (1_111, "exact")  # 王1, 王10-19, 王100-199, 王1000-1999 (ids ×10)
    assert not with_page(ran) and estimated(ran)


@pytest.mark.postgres
def test_a_row_filter_limits_the_count_taken_with_the_page(many):
    with sent_statements(many.engine) as ran:
        page = many.list(MARKETING, "patient", q="李123", limit=2)  # only the even ids consent to marketing
    assert (page.total, page.total_kind) == (44, "exact")  # the even ids of 李1231-9 and 李12301-99
    assert len(selects(ran)) == 1 and with_page(ran) and not estimated(ran)


def test_a_selective_search_is_counted_with_its_page_on_either_database(service):
    for i in range(4):
        service.create(SYSTEM, "patient", {"name": f"Anna{i}", "phone": f"1380000{i:04d}", "gender": "female"})
    with sent_statements(service.engine) as ran:
        page = service.list(SYSTEM, "patient", q="nna", limit=2)  # a substring of 3 characters: few matches
    assert (page.total, page.total_kind, len(page.items)) == (4, "exact", 2)
    assert len(selects(ran)) == 1 and with_page(ran) and not counted(ran)
    with sent_statements(service.engine) as ran:
        short = service.list(SYSTEM, "patient", q="an", limit=2)  # a 2-character prefix: counted on its own
    assert (short.total, short.total_kind) == (4, "exact")
    assert not with_page(ran) and counted(ran)


def test_a_count_reads_no_column_on_either_database(service):
    """Counting the matches needs only their conditions' columns: `SELECT 1`, never the whole row."""
    service.create(SYSTEM, "patient", {"name": "Anna", "phone": "13800000001", "gender": "female"})
    with sent_statements(service.engine) as ran:
        page = service.list(SYSTEM, "patient", limit=0)
        found = service.list(SYSTEM, "patient", q="nna", limit=0)
    assert (page.total, found.total) == (1, 1)
    counts = [" ".join(s.split()) for s in ran if s.lower().startswith("select count(*)")]
    assert len(counts) == 2 and all("(SELECT 1 FROM patient" in s for s in counts)
