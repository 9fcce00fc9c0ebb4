"""The FROM clause of a report: the source table and each linked table it reaches, joined once.

Every link followed is a LEFT OUTER JOIN on an alias of the target's table, with
the viewer's row filter for that entity in the ON clause: a linked record the
viewer may not see leaves its columns empty (the source row still counts, under
"none"), so no joined value leaks past the viewer's row filters. The source's
own row filter goes to the WHERE clause.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa

from engines.forms import EntitySpec

from .paths import FieldPath, Hop, resolve_path

SchemaPort = Callable[[str], sa.Table]  # entity -> its table (builder: Schema.table)
RowFilterPort = Callable[[str, sa.FromClause], Any]  # (entity, its table or alias) -> condition or None


class Joins:
    """Resolves field paths to columns, joining what they cross."""

    def __init__(
        self, entities: Mapping[str, EntitySpec], source: str, schema: SchemaPort, row_filter: RowFilterPort | None
    ):
        self.entities = entities
        self.source = source
        self.schema = schema
        self.row_filter = row_filter
        self.root: sa.FromClause = schema(source)
        self.from_clause: Any = self.root
        self._aliases: dict[tuple[Hop, ...], sa.FromClause] = {(): self.root}
        self.used: set[tuple[str, str]] = set()  # (entity, field) the report reads: for the caller's access rules

    def path(self, text: str) -> FieldPath:
        path = resolve_path(self.entities, self.source, text)
        self.used.update((hop.entity, hop.field) for hop in path.hops)
        self.used.add((path.entity, path.field))
        return path

    def table_at(self, hops: tuple[Hop, ...]) -> sa.FromClause:
        """The table (or alias) reached by `hops`, joining it on first use."""
        if hops in self._aliases:
            return self._aliases[hops]
        parent = self.table_at(hops[:-1])
        hop = hops[-1]
        alias = self.schema(hop.target).alias(f"r{len(self._aliases)}_{hop.target}"[:60])
        condition = alias.c.id == parent.c[hop.field]
        if self.row_filter is not None:
            allowed = self.row_filter(hop.target, alias)
            if allowed is not None:
                condition = sa.and_(condition, allowed)
        self.from_clause = self.from_clause.outerjoin(alias, condition)
        self._aliases[hops] = alias
        return alias

    def column(self, text: str) -> Any:
        """The stored column at the end of path `text` (a link gives its raw id column)."""
        path = self.path(text)
        return self.table_at(path.hops).c[path.field]

    def linked(self, path: FieldPath) -> sa.FromClause:
        """The table a link path lands on, joined (so the viewer's row filter applies to it)."""
        assert path.spec.to is not None
        return self.table_at(path.hops + (Hop(path.entity, path.field, path.spec.to),))

    def source_filter(self) -> Any:
        """The viewer's row filter on the source, or None."""
        return None if self.row_filter is None else self.row_filter(self.source, self.root)
