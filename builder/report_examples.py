"""Run a report's `examples:`: given rows in a throwaway SQLite database, the expected cells out.

Each example gets its own in-memory database with the blueprint's tables, the
given rows (values coerced by their field types, as the record service stores
them), and the report compiled as for a reader (no suppression). Every expected
row must match one result row on the columns it names; the result must have as
many rows as the example lists (filled empty buckets included).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from engines.forms import EntitySpec, FieldValueError, field_type
from engines.reports import ReportError, ReportSpec, compile_report, run_report
from engines.reports.paths import SYSTEM_FIELDS
from engines.rules import Problem

from .storage.tables import build_schema

EXAMPLE_TODAY = dt.date(2026, 1, 1)  # when an example gives no `now`: fixed, so examples never drift
STAMP = dt.datetime(2026, 1, 1)


def _stored(entity: EntitySpec, row: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"created_at": STAMP, "updated_at": STAMP, "version": 1}
    for name, value in row.items():
        spec = entity.fields.get(name) or SYSTEM_FIELDS.get(name)
        if spec is None:
            raise ValueError(f"`{name}` is not a field")
        values[name] = value if name == "id" else field_type(spec.type).coerce(value, spec)
    return values


def _same(expected: Any, got: Any) -> bool:
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)) and not isinstance(got, bool):
        return abs(expected - got) < 1e-6
    return str(expected) == str(got) if expected is not None and got is not None else expected is got


def run_report_examples(name: str, spec: ReportSpec, entities: Mapping[str, EntitySpec]) -> tuple[int, list[Problem]]:
    """How many examples of report `name` ran, and the problems of those that failed."""
    problems: list[Problem] = []
    for index, example in enumerate(spec.examples):
        where = ("reports", name, "examples", index)
        label = f"example {index + 1} of report {name}"
        engine = sa.create_engine("sqlite://")
        try:
            schema = build_schema(dict(entities))
            schema.metadata.create_all(engine)
            with engine.begin() as connection:
                for entity, rows in example.given.items():
                    for row in rows:
                        connection.execute(schema.table(entity).insert().values(**_stored(entities[entity], row)))
                today = example.now.date() if isinstance(example.now, dt.datetime) else example.now
                compiled = compile_report(
                    name,
                    spec,
                    entities,
                    schema=schema.table,
                    dialect="sqlite",
                    today=today or EXAMPLE_TODAY,
                    params=example.params,
                    private=False,
                )
                result = run_report(connection, compiled)
        except (ValueError, FieldValueError, ReportError, sa.exc.SQLAlchemyError) as exc:
            problems.append(Problem(where, "example.failed", f"{label} cannot run: {exc}"))
            continue
        finally:
            engine.dispose()
        problems += _compare(label, where, example.expect, example.totals, result, example.rows)
        for key, value in (example.previous or {}).items():
            got = (result.previous or {}).get(key)
            if not _same(value, got):
                message = f"{label}: previous {key} is {got}, expected {value}"
                problems.append(Problem((*where, "previous", key), "example.failed", message))
    return len(spec.examples), problems


def _compare(label: str, where: tuple, expect: list, totals: Any, result: Any, count: int | None) -> list[Problem]:
    problems = []
    rows = list(result.rows)
    for number, wanted in enumerate(expect):
        match = next((r for r in rows if all(_same(v, r.get(k)) for k, v in wanted.items())), None)
        if match is None:
            problems.append(
                Problem((*where, "expect", number), "example.failed", f"{label}: no result row is {wanted}; got {rows}")
            )
        else:
            rows.remove(match)
    if count is not None and len(result.rows) != count:
        message = f"{label}: {len(result.rows)} rows, expected {count}"
        problems.append(Problem((*where, "rows"), "example.failed", message))
    elif count is None and not problems and rows:
        problems.append(Problem((*where, "expect"), "example.failed", f"{label}: rows not expected: {rows}"))
    for key, value in (totals or {}).items():
        got = (result.totals or {}).get(key)
        if not _same(value, got):
            problems.append(
                Problem((*where, "totals", key), "example.failed", f"{label}: total {key} is {got}, expected {value}")
            )
    return problems
