"""Pivot: one dimension's values become columns, after the query (a table people read across).

`pivot: channel` on a report by month and channel gives one row per month and,
per measure, a column per channel found (`new_patients__wechat`), labelled with
the value's label (the option's, the linked record's title, the weekday's name).
Hidden cells stay hidden: the pivot only moves cells, it computes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engines.forms import LocalizedText

LOCALES = ("en", "zh-CN")
SUBTOTAL = "_subtotal"
TOTAL = object()  # the value of a row-total column


def _rolls_up(row: Mapping[str, Any], pivot: str) -> bool:
    """A subtotal row over another dimension: the pivoted one is rolled up into it."""
    return bool(row.get(SUBTOTAL)) and row.get(SUBTOTAL) != pivot


def _text(label: LocalizedText | None, locale: str) -> str:
    if label is None:
        return ""
    if isinstance(label, str):
        return label
    return label.get(locale) or label.get("en") or next(iter(label.values()), "")


def joined(*parts: LocalizedText | None) -> LocalizedText:
    """Labels joined with ` · `, per locale when any part has locales."""
    present = [p for p in parts if p is not None]
    if all(isinstance(p, str) for p in present):
        return " · ".join(str(p) for p in present)
    return {locale: " · ".join(_text(p, locale) for p in present) for locale in LOCALES}


def column_name(measure: str, value: Any) -> str:
    """`measure__value`: the pivoted column of `measure` for one value (`none` for an empty value)."""
    return f"{measure}__{'none' if value is None else value}"


def pivot_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    pivot: str,
    keep: Sequence[str],
    measures: Sequence[str],
) -> tuple[list[dict[str, Any]], list[tuple[str, str, Any]]]:
    """The pivoted rows and the new columns as (name, measure, value), values in order of appearance.

    `keep` are the columns that identify a row (the other dimensions, their titles,
    and `_subtotal`); a missing combination is an empty cell. A subtotal row that
    rolls the pivoted dimension up is its row's total: column `<measure>__total`
    on the row of its details (the value is TOTAL in the columns returned).
    """
    values: list[Any] = []
    totals = False
    for row in rows:
        if _rolls_up(row, pivot):
            totals = True
        elif row[pivot] not in values:
            values.append(row[pivot])
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for row in rows:
        rolled = _rolls_up(row, pivot)
        identity = tuple("None" if rolled and k == SUBTOTAL else repr(row.get(k)) for k in keep)
        target = out.setdefault(identity, {k: row.get(k) for k in keep if k in row and not (rolled and k == SUBTOTAL)})
        for measure in measures:
            target[f"{measure}__total" if rolled else column_name(measure, row[pivot])] = row.get(measure)
    columns = [(column_name(m, v), m, v) for v in values for m in measures]
    columns += [(f"{m}__total", m, TOTAL) for m in measures] if totals else []
    result = []
    for row in out.values():
        for name, _, _ in columns:
            row.setdefault(name, None)
        result.append(row)
    return result, columns
