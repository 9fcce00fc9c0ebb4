"""The rules engine's `count`, `exists`, `last` and `overlaps`, each as one SQL query.

The rules engine cannot touch a database; the record service hands it this port
for each evaluation. Field names in `where` are checked against the entity, and
encrypted fields compare by their keyed hash, so a helper can never read what a
blueprint could not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engines.rules import RuleError

from .codec import search_value
from .scope_locks import RuleScopes

if TYPE_CHECKING:
    from .service import RecordService

DEFAULT_LONGEST_MINUTES = 24 * 60


class SqlRelated:
    """RelatedRecords over the live database, within one connection (one transaction).

    In a write transaction each query first locks its scope (see scope_locks.py), so
    what a rule reads cannot change before the write commits.
    """

    def __init__(self, service: RecordService, conn: sa.Connection, current: tuple[str, int | None] | None = None):
        self.service, self.conn, self.current = service, conn, current
        self.scopes = RuleScopes(conn)

    def _table(self, entity: str) -> sa.Table:
        if entity not in self.service.entities:
            raise RuleError(f"there is no entity `{entity}`")
        return self.service.schema.table(entity)

    def _equalities(self, entity: str, where: Mapping[str, Any]) -> dict[str, list[Any]]:
        """Column -> stored values the rows must hold (`where` checked against the entity); locks that scope."""
        compiled = self.service.entities[entity]
        table = self._table(entity)
        where = dict(where)
        if not where and self.current:  # `last('visit', 'visited_at')` on a patient: that patient's visits
            where = self._implicit_parent(entity)
        equalities: dict[str, list[Any]] = {}
        for name, wanted in where.items():
            value = getattr(wanted, "id", wanted)  # a linked record compares by its id
            if name == "id":
                equalities["id"] = list(value) if isinstance(value, (list, tuple)) else [value]
                continue
            field = compiled.fields.get(name)
            if field is None or not field.kind.stored:
                raise RuleError(f"`{entity}` has no field `{name}` to filter on")
            values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
            pairs = [search_value(field, getattr(v, "id", v), self.service.cipher) for v in values]
            column = table.c[pairs[0][0]] if pairs else table.c[name]
            equalities[column.name] = [v for _, v in pairs]
        self.scopes.hold(entity, equalities)
        return equalities

    @staticmethod
    def _matching(table: sa.Table, columns: Sequence[str]) -> list[sa.ColumnElement[bool]]:
        """`column IN (:eq0)`, ... for each equality column, values bound when run (`_bound`)."""
        return [table.c[name].in_(sa.bindparam(f"eq{i}", expanding=True)) for i, name in enumerate(columns)]

    @staticmethod
    def _bound(equalities: Mapping[str, list[Any]]) -> dict[str, Any]:
        return {f"eq{i}": values for i, values in enumerate(equalities.values())}

    def _implicit_parent(self, entity: str) -> dict[str, Any]:
        current_entity, current_id = self.current or (None, None)
        links = [f for f, target in self.service.link_targets(entity).items() if target == current_entity]
        if len(links) == 1 and current_id is not None:
            return {links[0]: current_id}
        return {}

    def _newest_first(self, entity: str) -> list:
        table = self._table(entity)
        spec = self.service.entities[entity].spec
        moments = [n for n, f in spec.fields.items() if f.type in ("datetime", "date") and not f.encrypted]
        return ([table.c[moments[0]].desc()] if moments else []) + [table.c.id.desc()]

    def count(self, entity: str, where: Mapping[str, Any]) -> int:
        table = self._table(entity)
        equalities = self._equalities(entity, where)
        columns = tuple(equalities)
        query = self.service.built(
            ("related-count", entity, columns),
            lambda: sa.select(sa.func.count()).select_from(table).where(*self._matching(table, columns)),
        )
        return int(self.conn.execute(query, self._bound(equalities)).scalar_one())

    def exists(self, entity: str, where: Mapping[str, Any]) -> bool:
        table = self._table(entity)
        equalities = self._equalities(entity, where)
        columns = tuple(equalities)
        query = self.service.built(
            ("related-exists", entity, columns),
            lambda: sa.select(table.c.id).where(*self._matching(table, columns)).limit(1),
        )
        return self.conn.execute(query, self._bound(equalities)).first() is not None

    def last(self, entity: str, field: str, where: Mapping[str, Any]) -> Any:
        compiled = self.service.entities.get(entity)
        table = self._table(entity)
        target = compiled.fields.get(field) if compiled else None
        if target is None or not target.kind.stored or target.spec.encrypted:
            raise RuleError(f"`{entity}` has no field `{field}` that last() can read")
        equalities = self._equalities(entity, where)
        columns = tuple(equalities)
        query = self.service.built(
            ("related-last", entity, field, columns),
            lambda: (
                sa.select(table.c[field])
                .where(*self._matching(table, columns))
                .order_by(*self._newest_first(entity))
                .limit(1)
            ),
        )
        value = self.conn.execute(query, self._bound(equalities)).scalar()
        return target.kind.from_storage(value, target.spec)

    def overlaps(
        self,
        entity: str,
        start: dt.datetime,
        minutes: float,
        where: Mapping[str, Any],
        exclude_status: Collection[Any] = (),
        exclude_id: Any = None,
    ) -> bool:
        """Slots use the entity's first datetime field, its `minutes` field and its state field."""
        table = self._table(entity)
        spec = self.service.entities[entity].spec
        start_field = next((n for n, f in spec.fields.items() if f.type == "datetime"), None)
        if start_field is None or "minutes" not in spec.fields:
            raise RuleError(f"overlaps() needs `{entity}` to have a datetime field and a `minutes` field")
        longest = (
            spec.fields["minutes"].max
            if isinstance(spec.fields["minutes"].max, (int, float))
            else DEFAULT_LONGEST_MINUTES
        )
        start = start.replace(tzinfo=None)
        equalities = self._equalities(entity, where)
        status = next((n for n, f in spec.fields.items() if f.type == "state"), None)
        excluding = bool(exclude_status and status)
        current_id = (
            exclude_id
            if exclude_id is not None
            else (self.current[1] if self.current and self.current[0] == entity else None)
        )
        columns = tuple(equalities)

        def build() -> sa.Select:
            conditions = [
                *self._matching(table, columns),
                table.c[start_field] < sa.bindparam("slot_end"),
                table.c[start_field] > sa.bindparam("earliest"),
            ]
            if excluding:
                column = table.c[status]  # type: ignore[index]
                conditions.append(sa.or_(column.is_(None), column.not_in(sa.bindparam("skipped", expanding=True))))
            if current_id is not None:
                conditions.append(table.c.id != sa.bindparam("current_id"))
            return sa.select(table.c[start_field], table.c.minutes).where(*conditions)

        query = self.service.built(("related-overlaps", entity, columns, excluding, current_id is not None), build)
        values = {
            **self._bound(equalities),
            "slot_end": start + dt.timedelta(minutes=float(minutes)),
            "earliest": start - dt.timedelta(minutes=longest),
            "skipped": list(exclude_status),
            "current_id": current_id,
        }
        rows = self.conn.execute(query, values).all()
        for other_start, other_minutes in rows:
            length = other_minutes if other_minutes is not None else 0
            if other_start + dt.timedelta(minutes=float(length)) > start:
                return True
        return False
