"""Data rewrites that run after the schema change, in committed batches, resumable after a kill.

Rewriting every row of a table inside the migration's transaction held the table's
write lock for the whole rewrite (66 s at a million rows) and left nothing behind if
killed. Instead the schema change commits with the history row and a row in
`crm_migration_progress` per rewrite; then each batch of `BATCH_SIZE` rows by id is
rewritten and committed together with its done marker (`last_id`). A rerun of
`crm migrate` finds unfinished rows and continues after `last_id`.

One mechanism for every kind of rewrite (rewrite_kinds.py: encrypting, re-encrypting
after a rename, filling a required field, cutting values to a shorter length): a kind
says which rows still need it, how to rewrite a batch of them, and what to do once
every row is done. Each kind recognises rows already rewritten (so a batch whose
marker was lost is not done twice) and each UPDATE replaces only the value it read,
so a concurrent edit is kept. PostgreSQL gets `VACUUM ANALYZE` afterwards: every
rewritten row left a dead tuple behind.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ...system_tables import table_versions
from ..database import is_sqlite, write_transaction
from ..table_versions import note_change
from .backup import LineBackup
from .errors import MigrationError

PROGRESS_TABLE = "crm_migration_progress"
BATCH_SIZE = 1000

_metadata = sa.MetaData()
progress = sa.Table(
    PROGRESS_TABLE,
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("history_id", sa.Integer, nullable=False),
    sa.Column("step", sa.String(40), nullable=False),  # the kind: encrypt, reencrypt, fill, cut
    sa.Column("table_name", sa.String(200), nullable=False),
    sa.Column("column_name", sa.String(200), nullable=False),
    sa.Column("last_id", sa.BigInteger, nullable=False, default=0),
    sa.Column("rows_done", sa.BigInteger, nullable=False, default=0),
    sa.Column("done", sa.Boolean, nullable=False, default=False),
    sa.Column("detail", sa.Text, nullable=True),  # JSON the kind needs to resume (old context, fill value...)
    sa.Column("backup_bytes", sa.BigInteger, nullable=True),  # how much of the backup file these batches wrote
)

# on_progress(description, rows done so far, rows in all)
ProgressCallback = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Rewrite:
    """One unfinished rewrite: which kind, which column, how far it got."""

    id: int
    history_id: int
    step: str
    table: str
    column: str
    last_id: int
    rows_done: int
    detail: dict[str, Any] = field(default_factory=dict)
    backup_bytes: int = 0

    def describe(self) -> str:
        from .rewrite_kinds import kind_of_rewrite

        return kind_of_rewrite(self.step).describe(self)


@dataclass(frozen=True)
class PlannedRewrite:
    """What a migration step leaves to the batches: recorded beside the history row."""

    step: str
    table: str
    column: str
    detail: dict[str, Any] = field(default_factory=dict)
    in_transaction: bool = False  # the step's schema change still runs in the transaction (only its data waits)


def ensure_progress_table(connection: sa.Connection) -> None:
    """Create the table, or add the columns an older one lacks (`detail`, `backup_bytes`)."""
    _metadata.create_all(connection, tables=[progress], checkfirst=True)
    columns = {c["name"] for c in sa.inspect(connection).get_columns(PROGRESS_TABLE)}
    if "detail" not in columns:
        connection.exec_driver_sql(f"ALTER TABLE {PROGRESS_TABLE} ADD COLUMN detail TEXT")
    if "backup_bytes" not in columns:
        connection.exec_driver_sql(f"ALTER TABLE {PROGRESS_TABLE} ADD COLUMN backup_bytes BIGINT")


def schedule(connection: sa.Connection, history_id: int, planned: PlannedRewrite) -> None:
    """Record a pending rewrite (inside the migration's transaction, beside its history row)."""
    ensure_progress_table(connection)
    connection.execute(
        progress.insert().values(
            history_id=history_id,
            step=planned.step,
            table_name=planned.table,
            column_name=planned.column,
            last_id=0,
            rows_done=0,
            done=False,
            detail=json.dumps(planned.detail, sort_keys=True) if planned.detail else None,
        )
    )


def pending_rewrites(engine: sa.Engine) -> list[Rewrite]:
    """Rewrites not yet marked done, in the order they were planned (none when the table does not exist yet)."""
    if PROGRESS_TABLE not in sa.inspect(engine).get_table_names():
        return []
    with engine.connect() as connection:
        columns = {c["name"] for c in sa.inspect(connection).get_columns(PROGRESS_TABLE)}
        chosen = [c for c in progress.c if c.name in columns]
        found = connection.execute(sa.select(*chosen).where(progress.c.done.is_(False)).order_by(progress.c.id))
        return [
            Rewrite(
                r.id,
                r.history_id,
                r.step,
                r.table_name,
                r.column_name,
                r.last_id,
                r.rows_done,
                json.loads(r.detail) if getattr(r, "detail", None) else {},
                int(getattr(r, "backup_bytes", None) or 0),
            )
            for r in found
        ]


def _remaining(engine: sa.Engine, job: Rewrite, work: Any) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count()).select_from(work.table).where(work.table.c.id > job.last_id, work.condition)
            ).scalar_one()
        )


def _entity_of(table: str) -> str:
    return table.split("__", 1)[0]


def _batch(
    engine: sa.Engine,
    job: Rewrite,
    work: Any,
    lines: LineBackup | None,
    after: int,
    done: int,
    size: int | None,
    counters: bool,
    resume_at: int | None = None,
) -> tuple[Sequence[sa.Row], int]:
    """One committed batch after id `after`, with its done marker: (rows looked at, rows changed).

    Only this batch's locks are held: reads never wait, a write at most one batch. (On
    SQLite this takes the write lock up front, BEGIN IMMEDIATE: a read-then-write
    transaction that a concurrent writer overtook could not upgrade its lock and would fail.)
    A kind that loses values locks the rows it reads (FOR UPDATE on PostgreSQL), appends
    them to its backup file before the commit, and the marker records the file's length:
    a kill before the commit leaves lines the next run cuts off (LineBackup), so every
    lost value is in the backup once.
    """
    with write_transaction(engine) as connection:
        query = sa.select(work.table.c.id, *work.read).where(work.table.c.id > after, work.condition)
        query = query.order_by(work.table.c.id).limit(size)
        rows = connection.execute(query.with_for_update() if work.backup else query).all()
        count = work.rewrite(connection, rows) if rows else 0
        if count and counters:
            note_change(connection, _entity_of(job.table))  # cached reports over it are stale
        marker: dict[str, Any] = {"rows_done": done + len(rows)}
        marker["last_id"] = resume_at if resume_at is not None else int(rows[-1][0]) if rows else after
        if lines is not None and work.backup and rows:
            marker["backup_bytes"] = lines.append(work.backup(rows))
        connection.execute(sa.update(progress).where(progress.c.id == job.id).values(marker))
    return rows, count


def _stopped(job: Rewrite, done: int, exc: sa.exc.DBAPIError) -> MigrationError:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return MigrationError(
        f"{job.describe()} stopped after {done} rows: {reason}; the batches done so far stand, "
        "fix the cause and run crm migrate again to finish"
    )


def run_rewrite(
    engine: sa.Engine,
    job: Rewrite,
    keyring: Any,
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: ProgressCallback | None = None,
) -> int:
    """Run one rewrite to the end, a committed batch at a time; returns the rows rewritten by this run.

    After the last batch a kind may `seal` the column (from then on the database refuses
    values that would need the rewrite), then one more pass catches up rows written
    since their batch, then its `finish` runs; only then does the marker say done, so a
    kill anywhere repeats what is left (each of these is safe to repeat).
    """
    from .rewrite_kinds import kind_of_rewrite

    kind = kind_of_rewrite(job.step)
    with engine.connect() as connection:
        work = kind.prepare(connection, job, keyring)
        counters = sa.inspect(connection).has_table(table_versions.name)  # not before the first `crm migrate` ends
    lines = LineBackup(Path(job.detail["backup"]), job.backup_bytes) if job.detail.get("backup") else None
    total = job.rows_done + _remaining(engine, job, work)
    last, done, rewritten = job.last_id, job.rows_done, 0
    if on_progress:
        on_progress(job.describe(), done, total)
    try:
        while True:
            rows, count = _batch(engine, job, work, lines, last, done, batch_size, counters)
            if not rows:
                break
            last, done, rewritten = int(rows[-1][0]), done + len(rows), rewritten + count
            if on_progress:
                on_progress(job.describe(), done, max(total, done))
        if work.seal is not None:
            work.seal(engine)
            rows, count = _batch(engine, job, work, lines, 0, done, None, counters, resume_at=last)
            done, rewritten = done + len(rows), rewritten + count
        if work.finish is not None:
            work.finish(engine)
        with engine.begin() as connection:
            connection.execute(sa.update(progress).where(progress.c.id == job.id).values(done=True))
    except sa.exc.DBAPIError as exc:
        raise _stopped(job, done, exc) from None
    if done and not is_sqlite(engine):
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
