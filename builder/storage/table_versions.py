"""Per-table change counters: what tells a cached report result that its data changed.

Every write notes its entity on the connection (`note_change`); the write's
transaction bumps each noted entity's counter in `crm_table_version` just before
it commits (`flush_changes`, called by `write_transaction`), in sorted order so two
writers touching the same entities never deadlock on the counters, and as late as
possible so the counter row is locked only for the commit itself.

The counters live in the database, so every process (several `crm serve` and
`crm worker` on one PostgreSQL) sees a write made by any other. A reader takes
the counters before it runs the report, in the same snapshot or earlier: a result
is never older than the counters it is filed under. An update of the counter
row serialises writers of one entity at commit, so a counter only grows, in
commit order (unlike a sequence, whose numbers can commit out of order).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from builder.system_tables import table_versions

NOTED = "crm_changed_tables"  # key in Connection.info: the entities written in this transaction


def note_change(conn: sa.Connection, *entities: str) -> None:
    """Remember that this transaction wrote `entities`; their counters move when it commits."""
    conn.info.setdefault(NOTED, set()).update(entities)


def forget_changes(conn: sa.Connection) -> None:
    """Drop what an earlier, rolled-back transaction on this pooled connection noted."""
    conn.info.pop(NOTED, None)


def flush_changes(conn: sa.Connection) -> None:
    """Bump the counter of every entity noted on `conn` (inside its transaction, just before commit)."""
    noted = conn.info.pop(NOTED, None)
    if noted:
        bump(conn, noted)


_BUMPS: dict[str, sa.Insert] = {}  # by dialect: built once, it is part of every write (building it cost more)


def _bump_statement(dialect: str) -> sa.Insert:
    statement = _BUMPS.get(dialect)
    if statement is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = _BUMPS[dialect] = (
            insert(table_versions)
            .values(entity=sa.bindparam("entity"), version=1)
            .on_conflict_do_update(
                index_elements=[table_versions.c.entity], set_={"version": table_versions.c.version + 1}
            )
        )
    return statement


def bump(conn: sa.Connection, entities: Iterable[str]) -> None:
    """Add one to each entity's counter (creating it at 1), in a fixed order."""
    statement = _bump_statement(conn.dialect.name)
    for entity in sorted(set(entities)):
        conn.execute(statement, {"entity": entity})


def bump_all(conn: sa.Connection) -> None:
    """Move every counter (a migration changed tables under everyone's feet); nothing if the table is new."""
    if sa.inspect(conn).has_table(table_versions.name):
        conn.execute(table_versions.update().values(version=table_versions.c.version + 1))


def read_versions(conn: sa.Connection, entities: Iterable[str]) -> tuple[tuple[str, int], ...]:
    """The counters of `entities` (0 for one never written), sorted by entity: part of a cache key."""
    names = sorted(set(entities))
    found = dict(
        conn.execute(
            sa.select(table_versions.c.entity, table_versions.c.version).where(table_versions.c.entity.in_(names))
        ).all()
    )
    return tuple((name, int(found.get(name, 0))) for name in names)
