"""Data rewrites that run after the schema change, in committed batches, resumable after a kill.

Encrypting a field that held plaintext touches every row. Done inside the migration's
transaction it held the table's write lock for the whole rewrite (66 s at a million
rows) and left nothing behind if killed. Instead the schema change (the column turned
TEXT, the search-hash column added) commits with the history row and a row in
`crm_migration_progress` per rewrite; then each batch of `BATCH_SIZE` rows by id is
encrypted and committed together with its done marker (`last_id`). A rerun of
`crm migrate` finds unfinished rows and continues after `last_id`.

Never double-encrypting does not rest on the marker alone: a value that already
decrypts under the field's context is left as it is (a batch that committed before
its marker could not, but a server writing the field meanwhile does encrypt it), and
each UPDATE only replaces the plaintext it read, so a concurrent edit is kept.

While a rewrite runs the column holds both forms; servers following the new
blueprint read both (records/codec.py passes a value that is not a `v1:` token through
as the plaintext it still is). Exact search on the field finds only the rows already
rewritten until the rewrite is done. PostgreSQL gets `VACUUM ANALYZE` afterwards:
every row was rewritten, so half the table is dead tuples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ..crypto import TOKEN_VERSION, DecryptionError, field_context
from ..database import is_sqlite, write_transaction
from ..tables import hash_column

PROGRESS_TABLE = "crm_migration_progress"
BATCH_SIZE = 1000

_metadata = sa.MetaData()
progress = sa.Table(
    PROGRESS_TABLE,
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("history_id", sa.Integer, nullable=False),
    sa.Column("step", sa.String(40), nullable=False),  # "encrypt"
    sa.Column("table_name", sa.String(200), nullable=False),
    sa.Column("column_name", sa.String(200), nullable=False),
    sa.Column("last_id", sa.BigInteger, nullable=False, default=0),
    sa.Column("rows_done", sa.BigInteger, nullable=False, default=0),
    sa.Column("done", sa.Boolean, nullable=False, default=False),
)

# on_progress(description, rows done so far, rows in all)
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Rewrite:
    """One unfinished rewrite: which column, and how far it got."""

    id: int
    history_id: int
    step: str
    table: str
    column: str
    last_id: int
    rows_done: int

    def describe(self) -> str:
        return f"encrypting {self.table.replace('__', '.')}.{self.column}"


def ensure_progress_table(connection: sa.Connection) -> None:
    _metadata.create_all(connection, tables=[progress], checkfirst=True)


def schedule_encryption(connection: sa.Connection, history_id: int, table: str, column: str) -> None:
    """Record a pending rewrite (inside the migration's transaction, beside its history row)."""
    ensure_progress_table(connection)
    connection.execute(
        progress.insert().values(
            history_id=history_id,
            step="encrypt",
            table_name=table,
            column_name=column,
            last_id=0,
            rows_done=0,
            done=False,
        )
    )


def pending_rewrites(engine: sa.Engine) -> list[Rewrite]:
    """Rewrites not yet marked done (none when the table does not exist yet)."""
    if PROGRESS_TABLE not in sa.inspect(engine).get_table_names():
        return []
    with engine.connect() as connection:
        found = connection.execute(sa.select(progress).where(progress.c.done.is_(False)).order_by(progress.c.id))
        return [Rewrite(r.id, r.history_id, r.step, r.table_name, r.column_name, r.last_id, r.rows_done) for r in found]


def is_ciphertext(value: str, keyring: Any, context: str) -> bool:
    """Whether `value` is already a token of this field (it decrypts); plaintext that merely looks like one is not."""
    if not value.startswith(f"{TOKEN_VERSION}:"):
        return False
    try:
        keyring.decrypt(value, context)
    except DecryptionError:
        return False
    return True


def _encrypt_batch(
    connection: sa.Connection, job: Rewrite, keyring: Any, after: int, size: int
) -> tuple[int, int, int]:
    """Encrypt the next `size` values after id `after`: (last id looked at, values looked at, values rewritten)."""
    index = hash_column(job.column)
    table = sa.table(job.table, sa.column("id"), sa.column(job.column), sa.column(index))
    value = table.c[job.column]
    context = field_context(job.table, job.column)
    rows = connection.execute(
        sa.select(table.c.id, value).where(table.c.id > after, value.is_not(None)).order_by(table.c.id).limit(size)
    ).all()
    if not rows:
        return after, 0, 0
    updates = [
        {
            "crm_row_id": row_id,
            "crm_old": plain,
            "crm_value": keyring.encrypt(str(plain), context),
            "crm_index": keyring.blind_index(str(plain)),
        }
        for row_id, plain in rows
        if not is_ciphertext(str(plain), keyring, context)
    ]
    if updates:
        # Only where the plaintext is still the one read: a server's concurrent write (already encrypted) stands.
        connection.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("crm_row_id"), value == sa.bindparam("crm_old"))
            .values({job.column: sa.bindparam("crm_value"), index: sa.bindparam("crm_index")}),
            updates,
        )
    return int(rows[-1][0]), len(rows), len(updates)


def _remaining(engine: sa.Engine, job: Rewrite) -> int:
    table = sa.table(job.table, sa.column("id"), sa.column(job.column))
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(table.c.id > job.last_id, table.c[job.column].is_not(None))
            ).scalar_one()
        )


def run_rewrite(
    engine: sa.Engine,
    job: Rewrite,
    keyring: Any,
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Run one rewrite to the end, a committed batch at a time; returns the rows rewritten by this run."""
    total = job.rows_done + _remaining(engine, job)
    last, done, rewritten = job.last_id, job.rows_done, 0
    if on_progress:
        on_progress(job.describe(), done, total)
    while True:
        with write_transaction(engine) as connection:
            # One batch's locks only: reads never wait, a write at most one batch. (On SQLite this
            # takes the write lock up front, BEGIN IMMEDIATE: a read-then-write transaction that
            # a concurrent writer overtook could not upgrade its lock and would fail.)
            new_last, looked, count = _encrypt_batch(connection, job, keyring, last, batch_size)
            finished = looked == 0
            connection.execute(
                sa.update(progress)
                .where(progress.c.id == job.id)
                .values(last_id=new_last, rows_done=done + looked, done=finished)
            )
        if finished:
            break
        last, done, rewritten = new_last, done + looked, rewritten + count
        if on_progress:
            on_progress(job.describe(), done, max(total, done))
    if not is_sqlite(engine):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql(f"VACUUM ANALYZE {engine.dialect.identifier_preparer.quote(job.table)}")
    return rewritten


def run_pending_rewrites(
    engine: sa.Engine,
    keyring: Any,
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Finish every unfinished rewrite (after a migration, or on a rerun after a kill); returns rows rewritten."""
    return sum(
        run_rewrite(engine, job, keyring, batch_size=batch_size, on_progress=on_progress)
        for job in pending_rewrites(engine)
    )
