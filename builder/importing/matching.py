"""Finding the record a row duplicates: same phone, same resident ID, or same name and birth date.

Rules are tried in the mapping's order; the first whose fields are all filled in the
row decides. Values are compared as the record service stores them: coerced by their
field type (a phone in E.164), and an encrypted field by its blind index, never by
decrypting. Only records the importing actor may see are matched, and only on fields
it may read unmasked: a match on a field it sees masked would answer "does this phone
exist?" for every row, the look-up the record service limits. A row also
duplicates an earlier row of the same file, so a dry run reports what the real run does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..records import Actor, RecordService
from ..records.codec import search_value
from .errors import ImportFailed


@dataclass(frozen=True)
class Match:
    """The rule that matched, and the record (or earlier row of the file) it matched."""

    fields: tuple[str, ...]
    record_id: int | None
    version: int | None
    earlier_row: int | None = None


class Matcher:
    """Looks rows up by the mapping's match rules, for one actor and entity."""

    def __init__(self, records: RecordService, actor: Actor, entity: str, rules: list[list[str]]):
        self.records = records
        self.actor = actor
        self.entity = entity
        self.rules = [tuple(rule) for rule in rules]
        grant = records.policy.grant(actor, entity)
        fields = records.entity(entity).fields
        for rule in self.rules:
            hidden = [f for f in rule if f not in grant.readable]
            if hidden:
                raise ImportFailed(
                    f"role `{actor.role}` may not read {', '.join(hidden)} of {entity} records, "
                    "so duplicates cannot be matched on it; change `match:`"
                )
            masked = [f for f in rule if fields[f].spec.sensitive and not grant.full_access]
            if masked:  # each match would tell whether a masked value exists: a look-up the service limits
                raise ImportFailed(
                    f"role `{actor.role}` sees {', '.join(masked)} of {entity} records masked, "
                    "so duplicates cannot be matched on it; change `match:` or import as a role with full access"
                )
        self.visible = records.row_filter(actor, entity, grant)
        self.table = records.schema.table(entity)
        self._queries: dict[tuple[str, ...], sa.Select] = {}  # built once: one query per row is the hot path
        self.seen: dict[tuple, int] = {}  # (rule, values) -> the first row of the file that had them

    def keys(self, values: dict[str, Any]) -> list[tuple[tuple[str, ...], tuple]]:
        """(rule, stored values) for each rule the row fills, in order (values that do not coerce: no key)."""
        found = []
        compiled = self.records.entity(self.entity)
        for rule in self.rules:
            stored = []
            for name in rule:
                value = values.get(name)
                field = compiled.fields[name]
                if value is None:
                    break
                try:
                    stored.append(search_value(field, field.kind.coerce(value, field.spec), self.records.cipher))
                except ValueError:
                    break
            else:
                found.append((rule, tuple(stored)))
        return found

    def find(self, conn: sa.Connection, keys: list[tuple[tuple[str, ...], tuple]]) -> Match | None:
        """The first rule's match among the actor's records, or else among the rows written before in this file."""
        for rule, stored in keys:
            query = self._query(tuple(column for column, _value in stored))
            hit = conn.execute(query, {f"v{i}": value for i, (_column, value) in enumerate(stored)}).first()
            if hit is not None:
                return Match(rule, int(hit.id), int(hit.version), self.seen.get((rule, stored)))
            if (rule, stored) in self.seen:
                return Match(rule, None, None, self.seen[(rule, stored)])
        return None

    def _query(self, columns: tuple[str, ...]) -> sa.Select:
        query = self._queries.get(columns)
        if query is None:
            query = sa.select(self.table.c.id, self.table.c.version)
            for i, column in enumerate(columns):
                query = query.where(self.table.c[column] == sa.bindparam(f"v{i}"))
            if self.visible is not None:
                query = query.where(self.visible)
            query = self._queries[columns] = query.order_by(self.table.c.id).limit(1)
        return query

    def remember(self, keys: list[tuple[tuple[str, ...], tuple]], row: int) -> None:
        """A row was written (or would be, in a dry run): later rows with its keys duplicate it."""
        for key in keys:
            self.seen.setdefault(key, row)
