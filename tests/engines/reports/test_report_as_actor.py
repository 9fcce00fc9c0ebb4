"""Reports run as a role through the builder: its grants decide access, row filters, titles and privacy."""

from __future__ import annotations

import pytest
from reports_helpers import TODAY, cells, clinic, clinic_database

from builder.records.actor import Actor
from builder.records.errors import NotFound, PermissionDenied
from builder.records.reporting import run_report_as
from builder.records.service import RecordService
from engines.reports import Suppressed

Q1 = {"period": "2026-01-01..2026-03-31"}


def service_for(engine, schema) -> RecordService:
    loaded = clinic()
    tables = loaded.decision_tables
    return RecordService(
        loaded.blueprint.entities, engine, schema=schema, decision_tables=tables, timezone="Asia/Shanghai"
    )


def as_role(engine, schema, role, name, params=None, user_id=None):
    actor = Actor(id=user_id, name="tester", role=role)
    return run_report_as(service_for(engine, schema), clinic().blueprint.reports, actor, name, params, today=TODAY)


def test_an_analyst_sees_aggregates_only(engine):
    schema = clinic_database(engine)
    result = as_role(engine, schema, "analyst", "revisit_rate", Q1)
    assert all(isinstance(row["visits"], Suppressed) for row in result.rows if row["visits"] != 0)
    assert all(row.get("doctor__title") is None for row in result.rows)  # the analyst may not read staff names
    assert "doctor__title" not in [c.name for c in result.columns]


def test_a_reader_sees_every_cell_and_its_row_filter_applies(engine):
    schema = clinic_database(engine)
    result = as_role(engine, schema, "doctor", "no_show_rate", {"period": "2026-03-02..2026-03-15"}, user_id=101)
    assert cells(result) == [("2026-W10", 2, 1, 0.5), ("2026-W11", 1, 0, 0.0)]  # Dr Li's appointments only
    assert result.suppressed == 0
    nurse = as_role(engine, schema, "nurse", "revisit_rate", Q1)
    assert ("2026-01", 1, "Dr Li", 3) in cells(nurse, "month", "doctor", "doctor__title", "visits")


def test_a_role_without_report_or_read_rights_is_refused(engine):
    schema = clinic_database(engine)
    with pytest.raises(PermissionDenied, match="may not run reports on visit"):
        as_role(engine, schema, "marketing", "revisit_rate", Q1)
    with pytest.raises(PermissionDenied, match="vital_reading"):
        as_role(engine, schema, "front_desk", "bp_risk_distribution")
    with pytest.raises(NotFound, match="no report `nope`"):
        as_role(engine, schema, "admin", "nope")


def test_a_field_the_role_cannot_read_is_refused_without_report_rights(engine):
    schema = clinic_database(engine)
    # front_desk reads the patient's channel and creation time: every cell
    assert as_role(engine, schema, "front_desk", "new_patients", Q1).totals == {"new_patients": 6}
    # ...but not the follow-up entity at all
    with pytest.raises(PermissionDenied):
        as_role(engine, schema, "front_desk", "follow_up_completion")
