"""Helpers over related records: count, exists, last, overlaps.

The rules engine cannot query a database. The caller passes a `RelatedRecords` port
when evaluating (`expr.evaluate(context, related=port)`); the builder implements it
with one SQL query per call, tests and `examples:` runs use `InMemoryRelated`.
A `where` value that is a list means "is one of".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from .clock import Evaluation
from .errors import RuleError
from .functions import register_function


@runtime_checkable
class RelatedRecords(Protocol):
    """The port through which rules ask about other records (one query per call)."""

    def count(self, entity: str, where: Mapping[str, Any]) -> int:
        """How many `entity` records match `where` (field -> value, or list of values)."""
        ...

    def exists(self, entity: str, where: Mapping[str, Any]) -> bool:
        """Whether any `entity` record matches `where`."""
        ...

    def last(self, entity: str, field: str, where: Mapping[str, Any]) -> Any:
        """`field` of the newest matching record (the port decides "newest"), or None."""
        ...

    def overlaps(
        self,
        entity: str,
        start: dt.datetime,
        minutes: float,
        where: Mapping[str, Any],
        exclude_status: Collection[Any] = (),
        exclude_id: Any = None,
    ) -> bool:
        """Whether a matching record's [start, start+minutes) meets the given interval."""
        ...


def _port(env: Evaluation, fn: str) -> RelatedRecords:
    if env.related is None:
        raise RuleError(f"{fn}() needs related records, but none were given to this evaluation")
    return env.related


def _entity(entity: Any, fn: str) -> str:
    if not isinstance(entity, str) or not entity:
        raise RuleError(f"{fn}() needs an entity name first, got {entity!r}")
    return entity


@register_function(
    needs_env=True,
    null_safe=False,
    params=("text",),
    returns="integer",
    example="count('appointments', patient=id, status='no_show') < 3",
)
def count(env: Evaluation, entity: str, **where: Any) -> int:
    """How many related records match the filters."""
    return _port(env, "count").count(_entity(entity, "count"), where)


@register_function(
    needs_env=True,
    null_safe=False,
    params=("text",),
    returns="boolean",
    example="exists('consents', patient=id, kind='treatment')",
)
def exists(env: Evaluation, entity: str, **where: Any) -> bool:
    """Whether any related record matches the filters."""
    return bool(_port(env, "exists").exists(_entity(entity, "exists"), where))


@register_function(
    needs_env=True, null_safe=False, params=("text", "text"), example="last('vitals', 'systolic', patient=id) >= 140"
)
def last(env: Evaluation, entity: str, field: str, **where: Any) -> Any:
    """A field of the newest matching record (null when there is none)."""
    if not isinstance(field, str):
        raise RuleError(f"last() needs a field name, got {field!r}")
    return _port(env, "last").last(_entity(entity, "last"), field, where)


@register_function(
    needs_env=True,
    null_safe=False,
    params=("text",),
    returns="boolean",
    example="not overlaps('appointments', doctor=doctor, start=starts_at, minutes=minutes, "
    "exclude_status=['cancelled'], exclude_id=id)",
)
def overlaps(env: Evaluation, entity: str, **options: Any) -> Any:
    """Whether another record's time slot meets [start, start + minutes); null if start or minutes is."""
    start, length = options.pop("start", None), options.pop("minutes", None)
    exclude_status = options.pop("exclude_status", None) or ()
    exclude_id = options.pop("exclude_id", None)
    if start is None or length is None:
        return None
    if not isinstance(start, dt.datetime):
        raise RuleError(f"overlaps() needs start= a date and time, got {start!r}")
    if isinstance(exclude_status, str):
        exclude_status = (exclude_status,)
    port = _port(env, "overlaps")
    return bool(port.overlaps(_entity(entity, "overlaps"), start, length, options, tuple(exclude_status), exclude_id))


def _matches(row: Mapping[str, Any], where: Mapping[str, Any]) -> bool:
    for key, wanted in where.items():
        value = row.get(key)
        if isinstance(wanted, (list, tuple, set, frozenset)):
            if value not in wanted:
                return False
        elif value != wanted:
            return False
    return True


def _aligned(a: dt.datetime, b: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if (a.tzinfo is None) != (b.tzinfo is None):
        if a.tzinfo is None:
            a = a.replace(tzinfo=b.tzinfo)
        else:
            b = b.replace(tzinfo=a.tzinfo)
    return a, b


class InMemoryRelated:
    """RelatedRecords over lists of dicts, for tests and `examples:` runs.

    `records` maps entity name to its rows in insertion order ("last" is the last one
    matching, or the greatest `order_field` when given).
    """

    def __init__(
        self,
        records: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        *,
        start_field: str = "starts_at",
        minutes_field: str = "minutes",
        status_field: str = "status",
        id_field: str = "id",
        order_field: str | None = None,
    ):
        self.records = {name: [dict(row) for row in rows] for name, rows in (records or {}).items()}
        self.start_field, self.minutes_field = start_field, minutes_field
        self.status_field, self.id_field, self.order_field = status_field, id_field, order_field

    def add(self, entity: str, **row: Any) -> None:
        self.records.setdefault(entity, []).append(row)

    def _rows(self, entity: str, where: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [row for row in self.records.get(entity, []) if _matches(row, where)]

    def count(self, entity: str, where: Mapping[str, Any]) -> int:
        return len(self._rows(entity, where))

    def exists(self, entity: str, where: Mapping[str, Any]) -> bool:
        return bool(self._rows(entity, where))

    def last(self, entity: str, field: str, where: Mapping[str, Any]) -> Any:
        rows = self._rows(entity, where)
        order = self.order_field
        if order:
            rows = sorted((r for r in rows if r.get(order) is not None), key=lambda r: r[order])
        return rows[-1].get(field) if rows else None

    def overlaps(
        self,
        entity: str,
        start: dt.datetime,
        minutes: float,
        where: Mapping[str, Any],
        exclude_status: Collection[Any] = (),
        exclude_id: Any = None,
    ) -> bool:
        end = start + dt.timedelta(minutes=minutes)
        for row in self._rows(entity, where):
            if row.get(self.status_field) in exclude_status:
                continue
            if exclude_id is not None and row.get(self.id_field) == exclude_id:
                continue
            other_start, other_minutes = row.get(self.start_field), row.get(self.minutes_field)
            if other_start is None or other_minutes is None:
                continue
            a, b = _aligned(start, other_start)
            other_end = b + dt.timedelta(minutes=other_minutes)
            a_end = a + (end - start)
            if a < other_end and b < a_end:
                return True
        return False
