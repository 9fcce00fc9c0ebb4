"""`[reports] cache_entries` in crm.toml: the default keeps results, `0` turns the cache off (docs/reports.md, Cache).

Each run's report statement is counted on the engine reports run on; each run is
audited with whether it came from the cache.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from clinic_fixtures import CLINIC, _project, create_users, seed_clinic

from builder.errors import ProjectError
from builder.project import Project
from builder.records import SYSTEM
from builder.records.reporting import run_report_as
from builder.runtime import open_runtime
from builder.system_tables import audit, create_system_tables
from tests.sent_sql import sent_statements

MARCH = {"period": "2026-03-01..2026-03-31"}


def opened(tmp_path, url: str, reports: dict | None):
    base = _project(tmp_path, CLINIC, url)
    config = {**base.config, **({"reports": reports} if reports is not None else {})}
    runtime = open_runtime(Project(tmp_path, config), url)
    runtime.records.schema.metadata.create_all(runtime.engine)
    create_system_tables(runtime.engine)
    return runtime


def two_runs(runtime) -> tuple[int, list[bool]]:
    """Report statements sent by two identical runs, and the `cached` flag of each audit entry."""
    grouped = lambda statement: "GROUP BY" in statement.upper()  # noqa: E731
    with sent_statements(runtime.engine, keep=grouped) as sent:
        for _ in range(2):
            run_report_as(runtime.records, runtime.blueprint.reports, SYSTEM, "revisit_rate", MARCH)
    with runtime.engine.connect() as conn:
        details = conn.execute(sa.select(audit.c.detail).where(audit.c.action == "report").order_by(audit.c.id))
        cached = [json.loads(detail)["cached"] for (detail,) in details]
    return len(sent), cached


@pytest.mark.parametrize(
    ("reports", "sent", "cached"), [(None, 1, [False, True]), ({"cache_entries": 0}, 2, [False, False])]
)
def test_cache_entries_zero_turns_the_result_cache_off(tmp_path, database_url, reports, sent, cached):
    runtime = opened(tmp_path, database_url, reports)
    try:
        seed_clinic(runtime, create_users(runtime))
        assert (runtime.records.report_cache is None) == (reports is not None)
        assert two_runs(runtime) == (sent, cached)
    finally:
        runtime.close()


@pytest.mark.parametrize("entries", [-1, "256", True])
def test_a_bad_cache_entries_is_a_clear_error(tmp_path, entries):
    with pytest.raises(ProjectError, match=r"\[reports\] cache_entries is a whole number of at least 0"):
        opened(tmp_path, f"sqlite:///{tmp_path / 'crm.sqlite3'}", {"cache_entries": entries})
