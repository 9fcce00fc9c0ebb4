"""A period too long to fill is refused before any query runs (docs/reports.md, Big results).

A filled report (empty time buckets filled in memory) over `0001-01-01..` by week
would hold about 105,000 buckets: the API answers 422 (a value the report cannot
take), the export and the page 400, in words; no report statement reaches the
database and no run is audited.
"""

from __future__ import annotations

import sqlalchemy as sa

from builder.system_tables import audit
from tests.sent_sql import sent_statements

FOREVER = "0001-01-01.."


def report_entries(clinic) -> int:
    with clinic.runtime.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).where(audit.c.action == "report")).scalar_one()


def test_a_period_too_long_to_fill_is_refused_before_any_query(clinic):
    api = clinic.api("admin")
    page = clinic.login("admin")
    grouped = lambda statement: "GROUP BY" in statement.upper()  # noqa: E731
    with sent_statements(clinic.runtime.engine, keep=grouped) as sent:
        answer = api.get(f"/api/reports/no_show_rate?period={FOREVER}")
        export = api.get(f"/api/reports/no_show_rate/export?format=csv&period={FOREVER}")
        shown = page.get(f"/reports/no_show_rate?period={FOREVER}")
    assert answer.status_code == 422, answer.text[:300]
    assert "choose a shorter period or a larger bucket" in answer.json()["errors"][0]["message"]
    assert export.status_code == 400, export.text[:300]
    assert shown.status_code == 400 and "shorter period" in shown.text
    assert sent == []
    assert report_entries(clinic) == 0
    # The same report over a period it can fill runs and is audited.
    assert api.get("/api/reports/no_show_rate?period=2020-01-01..").status_code == 200
    assert report_entries(clinic) == 1
