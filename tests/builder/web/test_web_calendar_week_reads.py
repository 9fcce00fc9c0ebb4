"""A calendar week reads its cards with the same statements however many there are, and escapes them.

bench/api.py --workspace times a week of 1,260 cards; what made it slow was per card: an
`IN` list of one parameter per patient for the cards' titles (a new statement for every
week, planned again), every column of those patients read, and the template's escaping
of each value. The titles now come from one statement with one array parameter on
PostgreSQL, only ids and titles; the cards' markup is written once in calendar.py, which
must escape what the blueprint's data holds.
"""

from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from builder.records import SYSTEM

WEEK = "/records/appointment/calendar?day=2026-06-01&mode=week"


def _book(clinic, count: int, first: int) -> None:
    """`count` appointments with as many new patients in the week of 2026-06-01."""
    service = clinic.runtime.records
    doctors = [s["id"] for s in clinic.data["staff"]]
    for i in range(first, first + count):
        patient = service.create(SYSTEM, "patient", {"name": f"Week patient {i}", "phone": f"1390000{i:04d}"})
        moment = dt.datetime(2026, 6, 1 + i % 6, 8) + dt.timedelta(minutes=20 * (i // 12))
        service.create(
            SYSTEM,
            "appointment",
            {"patient": patient["id"], "doctor": doctors[i // 6 % 2], "starts_at": moment.isoformat()},
        )


def _statements(clinic, client, url: str) -> tuple[str, list[str]]:
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    sa.event.listen(clinic.runtime.engine, "before_cursor_execute", note)
    try:
        page = client.get(url)
    finally:
        sa.event.remove(clinic.runtime.engine, "before_cursor_execute", note)
    assert page.status_code == 200, page.text[:500]
    return page.text, seen


def test_a_week_issues_the_same_statements_for_two_cards_or_thirty(clinic):
    client = clinic.login("front_desk")
    _book(clinic, 2, 0)
    client.get(WEEK)  # warm: first-use work is not the page's
    few_page, few = _statements(clinic, client, WEEK)
    _book(clinic, 28, 2)
    many_page, many = _statements(clinic, client, WEEK)
    assert few_page.count('class="cal-card"') + 28 == many_page.count('class="cal-card"')
    assert "Week patient 29" in many_page
    assert len(few) == len(many)
    if clinic.runtime.engine.dialect.name == "postgresql":
        assert few == many  # the very same statements: not one more parameter per patient
    titles = [s for s in many if s.lstrip().startswith("SELECT patient.id")]
    assert len(titles) == 1
    assert re.split(r"\s+FROM\s+", titles[0])[0].split() == ["SELECT", "patient.id,", "patient.name"]


def test_names_on_calendar_cards_are_escaped(clinic):
    service = clinic.runtime.records
    patient = service.create(SYSTEM, "patient", {"name": '<b id="x">Bold</b> & "Co"', "phone": "13900009999"})
    doctor = clinic.data["staff"][0]["id"]
    service.create(
        SYSTEM, "appointment", {"patient": patient["id"], "doctor": doctor, "starts_at": "2026-06-02T10:00:00"}
    )
    for mode in ("week", "day"):
        page = clinic.login("front_desk").get(f"/records/appointment/calendar?day=2026-06-02&mode={mode}")
        assert page.status_code == 200
        assert "&lt;b id=&#34;x&#34;&gt;Bold&lt;/b&gt; &amp; &#34;Co&#34;" in page.text
        assert '<b id="x">' not in page.text
