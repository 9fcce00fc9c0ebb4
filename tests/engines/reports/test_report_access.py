"""The viewer's row filters apply to the source and to every entity a report joins.

The row-filter port is built the way the builder will build it: the record
service's own `compile_row_filter`, pointed at the alias the report joins.
"""

from __future__ import annotations

from typing import Any

from reports_helpers import cells, clinic, clinic_database, run

from builder.records.rowfilter import compile_row_filter
from engines.reports import ReportSpec

Q1 = "2026-01-01..2026-03-31"


def row_filters(schema: Any, wheres: dict[str, str], user: dict[str, Any]):
    """A row-filter port from permission `where`s, as the builder passes it."""
    entities = clinic().blueprint.entities

    def link_target(entity: str, field: str) -> str | None:
        spec = entities[entity].fields.get(field)
        return spec.to if spec is not None and spec.type == "link" else None

    def port(entity: str, table: Any) -> Any:
        if entity not in wheres:
            return None
        tables = lambda name: table if name == entity else schema.table(name)  # noqa: E731
        return compile_row_filter(wheres[entity], entity, tables, link_target, user)

    return port


def test_a_joined_doctor_the_viewer_cannot_see_is_not_shown(engine):
    schema = clinic_database(engine)
    port = row_filters(schema, {"staff": "user == user.id"}, {"id": 101})  # sees only Dr Li's staff record
    result = run(engine, schema, "revisit_rate", params={"period": Q1}, row_filter=port)
    assert 2 not in [row["doctor"] for row in result.rows]
    assert "Dr Wang" not in [row["doctor__title"] for row in result.rows]
    assert [r for r in cells(result, "month", "doctor", "visits") if r[2]] == [
        ("2026-01", 1, 3),
        ("2026-02", None, 3),  # the visits still count, under no doctor
        ("2026-03", None, 1),
    ]


def test_a_filter_on_a_joined_entity_applies_along_a_two_hop_path(engine):
    schema = clinic_database(engine)
    spec = ReportSpec.model_validate(
        {"source": "visit", "dimensions": ["patient.primary_doctor"], "measures": {"visits": {"agg": "count"}}}
    )
    everyone = run(engine, schema, spec)
    assert cells(everyone, "primary_doctor", "visits") == [(1, 4), (2, 3)]
    port = row_filters(schema, {"patient": "consent_marketing == true"}, {"id": 7})  # like the marketing role
    filtered = run(engine, schema, spec, row_filter=port)
    assert cells(filtered, "primary_doctor", "visits") == [(1, 2), (2, 2), (None, 3)]


def test_the_source_row_filter_applies(engine):
    schema = clinic_database(engine)
    port = row_filters(schema, {"appointment": "doctor.user == user.id"}, {"id": 101})  # the doctor role's filter
    result = run(engine, schema, "no_show_rate", params={"period": "2026-03-02..2026-03-15"}, row_filter=port)
    assert cells(result) == [("2026-W10", 2, 1, 0.5), ("2026-W11", 1, 0, 0.0)]
    assert result.totals == {"due": 3, "no_shows": 1, "no_show_rate": 0.333333333}


def test_a_where_across_a_link_sees_only_visible_linked_records(engine):
    schema = clinic_database(engine)
    spec = ReportSpec.model_validate(
        {
            "source": "visit",
            "measures": {
                "all": {"agg": "count"},
                "consenting": {"agg": "count", "where": "patient.consent_marketing == true"},
                "with_li": {"agg": "count", "where": "patient.primary_doctor.name == 'Dr Li'"},
            },
        }
    )
    assert cells(run(engine, schema, spec)) == [(7, 4, 4)]  # consenting: A and C, two visits each
    hidden_li = row_filters(schema, {"staff": "department == 'dental'"}, {"id": 1})
    assert cells(run(engine, schema, spec, row_filter=hidden_li)) == [(7, 4, 0)]
