"""How a report's cells read to a person: bucket, option, boolean and link labels; numbers by format.

The engine returns codes (`wechat`, `True`, `2026-W10`, a staff id) so results stay
the same on both databases and in the API; pages turn them into words in the
viewer's language here. A hidden (suppressed) cell reads `<5`: its value never
reaches this module.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from engines.forms import FieldSpec, field_type
from engines.reports import Suppressed
from engines.reports.buckets import next_bucket

from ..i18n import register_texts, translate

register_texts(
    {
        "reports.none": {"en": "(none)", "zh-CN": "(无)"},
        "reports.bucket.week": {"en": "Week {week}, {year}", "zh-CN": "{year}年第{week}周"},
        "reports.bucket.month": {"en": "{month_name} {year}", "zh-CN": "{year}年{month}月"},
        "reports.bucket.quarter": {"en": "Q{quarter} {year}", "zh-CN": "{year}年第{quarter}季度"},
        "reports.bucket.year": {"en": "{year}", "zh-CN": "{year}年"},
        "reports.record": {"en": "{entity} #{id}", "zh-CN": "{entity} #{id}"},
    }
)

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


def bucket_start(label: str, by: str) -> dt.date | None:
    """The first day of the bucket a label names (`2026-W10` -> Monday 2 March 2026); None if it is no bucket."""
    try:
        if by == "day":
            return dt.date.fromisoformat(label)
        if by == "week" and (m := _WEEK.match(label)):
            return dt.date.fromisocalendar(int(m[1]), int(m[2]), 1)
        if by == "month" and (m := _MONTH.match(label)):
            return dt.date(int(m[1]), int(m[2]), 1)
        if by == "quarter" and (m := _QUARTER.match(label)):
            return dt.date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1)
        if by == "year" and _YEAR.match(label):
            return dt.date(int(label), 1, 1)
    except ValueError:
        return None
    return None


def bucket_range(label: str, by: str) -> tuple[dt.date, dt.date] | None:
    """[start, end) of the bucket a label names, for drilling down to its records."""
    start = bucket_start(label, by)
    return None if start is None else (start, next_bucket(start, by))


def bucket_text(label: Any, by: str, locale: str) -> str:
    """A bucket as a person says it: 2026年3月 / Mar 2026, 2026年第10周 / Week 10, 2026."""
    if label is None:
        return translate("reports.none", locale)
    text = str(label)
    start = bucket_start(text, by)
    if start is None or by == "day":
        return text  # a day reads well as written; an unknown bucket kind is shown as the engine wrote it
    values = {"year": start.year, "month": start.month, "month_name": MONTHS[start.month - 1]}
    if by == "week":
        year, week, _ = start.isocalendar()
        values.update(year=year, week=week)
    if by == "quarter":
        values["quarter"] = (start.month - 1) // 3 + 1
    return translate(f"reports.bucket.{by}", locale, **values)


def value_text(spec: FieldSpec | None, value: Any, locale: str, *, title: Any = None, entity: str = "") -> str:
    """A dimension's value: an option's label, Yes/是, a linked record's title (else `Doctor #3`)."""
    if value is None or value == "":
        return translate("reports.none", locale)
    if spec is None:
        return str(value)
    if spec.type in ("link", "user"):
        if title not in (None, ""):
            return str(title)
        return translate("reports.record", locale, entity=entity, id=value)
    try:
        return field_type(spec.type).display(value, spec, locale) or str(value)
    except Exception:  # noqa: BLE001 - a display quirk must not break a report page
        return str(value)


def number_text(value: Any, form: str | None, locale: str) -> str:
    """A measure's cell: `12.5%`, `1,234`, `3.25`; a hidden cell reads `<5`; empty stays empty."""
    if isinstance(value, Suppressed):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if form == "percent":
        return f"{value * 100:,.1f}%"
    if form == "integer":
        return f"{round(value):,}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
