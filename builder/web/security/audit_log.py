"""Reading the audit trail: filters from a query string, one page of entries, newest first.

Read-only by design: this module only selects. Nothing in the app updates or
deletes `crm_audit` rows. Entries are stored in UTC; the date filters name days of
the app's timezone, and the JSON gives each time with its UTC offset.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from builder.system_tables import audit
from builder.web.i18n import translate

TEXT_FILTERS = ("actor", "action", "entity")
DEFAULT_PER_PAGE, MAX_PER_PAGE = 50, 200
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    entity: str | None = None
    record_id: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    def as_params(self) -> dict[str, str]:
        """The non-empty filters as query-string values (for links to other pages)."""
        values = {k: v for k, v in asdict(self).items() if v is not None and k not in ("page", "per_page")}
        if self.per_page != DEFAULT_PER_PAGE:
            values["per_page"] = self.per_page
        return {k: str(v) for k, v in values.items()}


@dataclass
class AuditPage:
    entries: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _whole(value: str, low: int, high: int) -> int | None:
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        return None
    number = int(value)
    return number if low <= number <= high else None


def parse_filters(params: Mapping[str, str], locale: str) -> tuple[AuditFilters, list[dict[str, str]]]:
    """Filters from query parameters; invalid ones are dropped and listed as errors."""
    values: dict[str, Any] = {}
    errors: list[dict[str, str]] = []

    def error(field: str, code: str, key: str) -> None:
        errors.append({"field": field, "code": code, "message": translate(key, locale)})

    for name in TEXT_FILTERS:
        text = (params.get(name) or "").strip()
        if text and not text.isprintable():
            error(name, "invalid", "audit.bad_text")
        elif text:
            values[name] = text[:64]
    for name, low, high in (("record_id", 0, 2**31 - 1), ("page", 1, MAX_PAGE), ("per_page", 1, MAX_PER_PAGE)):
        text = (params.get(name) or "").strip()
        if text:
            number = _whole(text, low, high)
            if number is None:
                error(name, "invalid", "audit.bad_number")
            else:
                values[name] = number
    for name in ("date_from", "date_to"):
        text = (params.get(name) or "").strip()
        if text:
            try:
                values[name] = dt.date.fromisoformat(text)
            except ValueError:
                error(name, "invalid", "audit.bad_date")
    if values.get("date_from") and values.get("date_to") and values["date_from"] > values["date_to"]:
        error("date_from", "invalid", "audit.bad_range")
        values.pop("date_from")
    return AuditFilters(**values), errors


def _day_start_utc(day: dt.date, zone: dt.tzinfo) -> dt.datetime:
    """Midnight starting `day` in `zone`, as the naive UTC time the table stores."""
    return dt.datetime.combine(day, dt.time.min, zone).astimezone(dt.UTC).replace(tzinfo=None)


def _conditions(filters: AuditFilters, zone: dt.tzinfo) -> list[sa.ColumnElement[bool]]:
    conditions = [
        getattr(audit.c, name) == getattr(filters, name)
        for name in (*TEXT_FILTERS, "record_id")
        if getattr(filters, name) is not None
    ]
    if filters.date_from:
        conditions.append(audit.c.at >= _day_start_utc(filters.date_from, zone))
    if filters.date_to:  # the whole day `date_to` is included
        conditions.append(audit.c.at < _day_start_utc(filters.date_to + dt.timedelta(days=1), zone))
    return conditions


def _entry(row: sa.Row) -> dict[str, Any]:
    try:
        changes = json.loads(row.changes) if row.changes else None
    except ValueError:
        changes = row.changes
    at = row.at.replace(tzinfo=dt.UTC).isoformat() if row.at else None
    return {
        "id": row.id,
        "at": at,
        "actor": row.actor,
        "role": row.role,
        "address": row.address,
        "action": row.action,
        "entity": row.entity,
        "record_id": row.record_id,
        "changes": changes,
        "detail": row.detail,
    }


def search_audit(engine: sa.Engine, filters: AuditFilters, zone: dt.tzinfo = dt.UTC) -> AuditPage:
    """One page of entries, newest first; `zone` is the app's timezone (for the date filters)."""
    conditions = _conditions(filters, zone)
    offset = (filters.page - 1) * filters.per_page
    query = (
        sa.select(audit)
        .where(*conditions)
        .order_by(audit.c.at.desc(), audit.c.id.desc())
        .limit(filters.per_page)
        .offset(offset)
    )
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(audit).where(*conditions)).scalar_one()
        rows = conn.execute(query).all()
    return AuditPage([_entry(r) for r in rows], total, filters.page, filters.per_page)
