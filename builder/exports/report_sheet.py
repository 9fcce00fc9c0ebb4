"""A report's result as a person reads it: column labels and value labels in their language.

- headers: each dimension's `label` (else the field's label), each measure's
  `label` (else its name made readable);
- a link dimension shows the linked record's title when the viewer may read it
  (the result carries it beside the id), else `#id`; the separate title column
  is not repeated;
- select, state and boolean values show their option labels (是/否, 已完成);
  time buckets read as the result gives them (2026-03, 2026-W10);
- measures stay numbers (a percent measure is formatted as one in XLSX); a
  hidden small cell reads `<5`; an empty group reads "(none)" / "（无）";
- a totals row comes last, labelled "Total" / "合计".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from engines.forms import localized
from engines.reports import PathError, ReportResult, ResultColumn, Suppressed, resolve_path

from ..records.service import RecordService
from .writers import Sheet

NONE = {"en": "(none)", "zh-CN": "（无）"}
TOTAL = {"en": "Total", "zh-CN": "合计"}


def _word(words: dict[str, str], locale: str) -> str:
    return words.get(locale) or words.get(locale.split("-")[0]) or words["en"]


def report_sheet(
    service: RecordService,
    name: str,
    spec: Any,
    columns: list[ResultColumn],
    rows: Iterable[dict[str, Any]],
    totals: dict[str, Any] | None,
    locale: str,
) -> Sheet:
    """The sheet of one report run (rows may be a lazy iterator: they are labelled as they are written)."""
    entities = {e: c.spec for e, c in service.entities.items()}
    dimensions = {d.key: d for d in spec.dimensions}
    titles = {c.name for c in columns if c.kind == "title"}
    shown = [c for c in columns if c.kind != "title"]
    headers, cells, formats = [], [], {}
    for index, column in enumerate(shown):
        if column.kind == "dimension":
            dimension = dimensions[column.name]
            try:
                path = resolve_path(entities, spec.source, dimension.field)
                field = service.entities[path.entity].fields.get(path.field)
            except PathError:
                field = None
            default = localized(field.spec.label, locale, column.name) if field is not None else column.name
            headers.append(localized(dimension.label, locale, default.replace("_", " ").capitalize()))
            title = column.name + "__title" if column.name + "__title" in titles else None
            cells.append(_dimension_cell(column.name, title, None if dimension.by else field, locale))
        else:
            measure = spec.measures[column.name]
            headers.append(localized(measure.label, locale, column.name.replace("_", " ").capitalize()))
            cells.append(_measure_cell(column.name))
            formats[index] = measure.format
    title = localized(spec.title, locale, name) if getattr(spec, "title", None) else name

    def lines() -> Iterator[list[Any]]:
        for row in rows:
            yield [cell(row) for cell in cells]
        if totals is not None:
            first = [_word(TOTAL, locale) if i == 0 else "" for i, c in enumerate(shown) if c.kind != "measure"]
            yield first + [_number(totals.get(c.name)) for c in shown if c.kind == "measure"]

    return Sheet(title, headers, lines(), formats)


def _dimension_cell(key: str, title: str | None, field: Any, locale: str) -> Any:
    none = _word(NONE, locale)

    def cell(row: dict[str, Any]) -> Any:
        value = row.get(key)
        if value is None:
            return none
        if title is not None:
            return row.get(title) if row.get(title) not in (None, "") else f"#{value}"
        if field is None:
            return str(value)
        if field.spec.type in ("link", "user"):
            return f"#{value}"
        try:
            return field.kind.display(value, field.spec, locale)
        except Exception:  # noqa: BLE001 - a display quirk must not break an export
            return str(value)

    return cell


def _measure_cell(key: str) -> Any:
    return lambda row: _number(row.get(key))


def _number(value: Any) -> Any:
    return str(value) if isinstance(value, Suppressed) else value


def result_sheet(service: RecordService, name: str, spec: Any, result: ReportResult, locale: str) -> Sheet:
    """The sheet of a whole result (the CLI, scheduled mails)."""
    return report_sheet(service, name, spec, result.columns, result.rows, result.totals, locale)
