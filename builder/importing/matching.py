"""Finding the record a row duplicates: same phone, same resident ID, or same name and birth date.

Rules are tried in the mapping's order; the first whose fields are all filled in the
row decides. Values are compared as the record service stores them: coerced by their
field type (a phone in E.164), and an encrypted field by its blind index, never by
decrypting. Only records the importing actor may see are matched, and only on fields
it may read unmasked: a match on a field it sees masked would answer "does this phone
exist?" for every row, the look-up the record service limits. A row also
duplicates an earlier row of the same file, so a dry run reports what the real run does.

A batch's rows are looked up together (`prefetch`): one query per rule for all their
values, instead of one query per row. What a row then finds is what its own query would
have found at that moment: the batch's own writes are remembered, and a record written
earlier in the batch (its values may have changed) is asked for again, alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..records import Actor, RecordService
from ..records.codec import search_value
from .errors import ImportFailed

Key = tuple[tuple[str, ...], tuple[tuple[str, Any], ...]]  # (rule, ((column, stored value), ...))


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
        self._queries: dict[tuple[str, ...], sa.Select] = {}  # built once
        self.seen: dict[tuple, int] = {}  # (rule, values) -> the first row of the file that had them
        # The batch being written (see prefetch): the keys asked, the records that had them when it began,
        # the records it wrote under each key, and the ids it wrote.
        self._asked: set[Key] = set()
        self._found: dict[Key, tuple[int, int]] = {}
        self._local: dict[Key, int] = {}
        self._touched: set[int] = set()

    def keys(self, values: dict[str, Any]) -> list[Key]:
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

    def prefetch(self, conn: sa.Connection, keys: Iterable[Key], chunk: int = 500) -> None:
        """Start a batch: look up all its rows' keys, one query per rule and `chunk` bound values (SQLite
        before 3.32 takes at most 999 in a statement)."""
        self._asked, self._found, self._local, self._touched = set(keys), {}, {}, set()
        by_rule: dict[tuple[str, ...], list[Key]] = {}
        for key in self._asked:
            by_rule.setdefault(tuple(column for column, _value in key[1]), []).append(key)
        for columns, wanted in by_rule.items():
            step = max(1, chunk // len(columns))
            for start in range(0, len(wanted), step):
                part = wanted[start : start + step]
                # Each column IN its values (a superset for rules of several fields), kept only when the whole
                # key matches; lowest id first, as the one-row query orders them.
                values = {tuple(value for _column, value in key[1]): key for key in part}
                query = sa.select(self.table.c.id, self.table.c.version, *(self.table.c[c] for c in columns))
                for i, column in enumerate(columns):
                    query = query.where(self.table.c[column].in_({v[i] for v in values}))
                if self.visible is not None:
                    query = query.where(self.visible)
                for hit in conn.execute(query.order_by(self.table.c.id)):
                    matched = values.get(tuple(hit)[2:])
                    if matched is not None:
                        self._found.setdefault(matched, (int(hit.id), int(hit.version)))

    def find(self, conn: sa.Connection, keys: list[Key]) -> Match | None:
        """The first rule's match among the actor's records, or else among the rows written before in this file."""
        for key in keys:
            hit = self._hit(conn, key)
            if hit is not None:
                return Match(key[0], hit[0], hit[1], self.seen.get(key))
            if key in self.seen:
                return Match(key[0], None, None, self.seen[key])
        return None

    def _hit(self, conn: sa.Connection, key: Key) -> tuple[int, int] | None:
        """(id, version) of the record with `key` now: from the batch's look-up unless this batch wrote it."""
        if key in self._asked:
            found = self._found.get(key)
            record_id = found[0] if found is not None else self._local.get(key)
            if record_id is None:
                return None
            if record_id not in self._touched:
                return found
        _rule, stored = key
        query = self._query(tuple(column for column, _value in stored))
        hit = conn.execute(query, {f"v{i}": value for i, (_column, value) in enumerate(stored)}).first()
        return None if hit is None else (int(hit.id), int(hit.version))

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

    def remember(self, keys: list[Key], row: int) -> None:
        """A row was written (or would be, in a dry run): later rows with its keys duplicate it."""
        for key in keys:
            self.seen.setdefault(key, row)

    def wrote(self, keys: list[Key], record_id: int) -> None:
        """This batch wrote `record_id` (created or updated) with a row's keys: until the batch ends, a row
        finding that record asks the database again (its values and version may have changed)."""
        self._touched.add(record_id)
        for key in keys:
            self._local.setdefault(key, record_id)
