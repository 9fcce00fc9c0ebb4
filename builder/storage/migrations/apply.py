"""Apply a migration plan (all or nothing), or print the SQL it would run.

Both databases run the whole plan in one transaction: PostgreSQL has transactional
DDL, and our SQLite engine emits a real BEGIN (see database.py). SQLite copies a
table to change a column (Alembic batch mode; not for a type change within one affinity,
sqlite_retype.py, unless SQLite refuses to edit its schema), which with foreign keys on would
cascade-delete child rows when the old copy is dropped; so, as SQLite's own
documentation prescribes, foreign keys are switched off for the migration and
checked with `PRAGMA foreign_key_check` before committing.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations

from ..database import is_sqlite
from ..locks import hold_off_writers
from ..table_versions import bump_all
from . import history
from .alterations import Alteration, ChangeType
from .backup import backup_folder, write_backup
from .drop_backup import DropBackup, has_ids
from .encryption import KeyringStep
from .errors import MigrationError
from .operations import AddColumn, Step, quote
from .planner import MigrationPlan
from .planner import blueprint_hash as hash_of
from .planner import blueprint_json as json_of
from .rewrite_kinds import Cut, kind_of_rewrite
from .rewrites import PlannedRewrite, ProgressCallback, Rewrite, run_pending_rewrites, schedule
from .sqlite_retype import index_definitions


@dataclass(frozen=True)
class MigrationResult:
    """What `apply_migration` did."""

    applied: bool
    summary: list[str]
    backup: Path | None = None
    history_id: int | None = None


def run_steps(
    operations: Operations, steps: list[Step], copy_from: Callable[[str], sa.Table | None] | None = None
) -> None:
    """Run `steps` in order; consecutive alterations of one table share one batch block."""
    index = 0
    while index < len(steps):
        step = steps[index]
        if not isinstance(step, Alteration):
            step.apply(operations)
            index += 1
            continue
        group = [step]
        while index + len(group) < len(steps):
            following = steps[index + len(group)]
            if not isinstance(following, Alteration) or following.table != step.table:
                break
            group.append(following)
        for alteration in group:
            alteration.prepare(operations)
        kept = _indexes_to_keep(operations, group)
        with operations.batch_alter_table(step.table, copy_from=copy_from(step.table) if copy_from else None) as batch:
            for alteration in group:
                alteration.apply_batch(batch)
        if kept:
            _restore_indexes(operations, step.table, kept)
        index += len(group)


def _indexes_to_keep(operations: Operations, group: list[Alteration]) -> dict[str, str]:
    """SQLite copying a table the plan said it would not (it refused an in-place type change): its indexes.

    Nothing else in the group changes the table (any other alteration would have planned
    the copy), so it must keep exactly these indexes. Batch mode keeps only those
    SQLAlchemy can read back, and those without their collation (a search index's
    `COLLATE NOCASE`); a planned copy has the plan make its search indexes again, this
    one does not.
    """
    dialect = operations.impl.dialect.name
    if not any(isinstance(a, ChangeType) and a.refused for a in group) or any(a.copies_table(dialect) for a in group):
        return {}
    return index_definitions(operations.get_bind(), group[0].table)


def _restore_indexes(operations: Operations, table: str, kept: dict[str, str]) -> None:
    """Make again each index in `kept` that the copy lost or changed, from its own definition."""
    now = index_definitions(operations.get_bind(), table)
    for name, sql in kept.items():
        if now.get(name) == sql:
            continue
        if name in now:
            operations.execute(f"DROP INDEX {quote(operations, name)}")
        operations.execute(sql)


def _sqlite_foreign_keys(connection: sa.Connection, on: bool) -> None:
    # Must run outside a transaction, where SQLite honours it: straight on the driver.
    driver = connection.connection.driver_connection
    if driver is None:
        raise MigrationError("the database connection is closed")
    driver.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_sqlite_foreign_keys(connection: sa.Connection) -> None:
    problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if problems:
        tables = sorted({row[0] for row in problems})
        raise MigrationError(
            f"the migration would leave {len(problems)} broken links in {', '.join(tables)}; nothing was changed"
        )


def apply_migration(
    engine: sa.Engine,
    plan: MigrationPlan,
    *,
    allow_data_loss: bool = False,
    backup_dir: Path | str | None = None,
    applied_by: str = "cli",
    blueprint_hash: str | None = None,
    blueprint_json: str | None = None,
    keyring: Any = None,
    on_progress: ProgressCallback | None = None,
    batch_size: int | None = None,
) -> MigrationResult:
    """Apply `plan` in one transaction and record it in the history.

    Refuses (MigrationRefused) steps that lose data unless `allow_data_loss`, and then
    writes a backup (SQLite: whole file into `backup_dir`, default `backups/` beside it;
    PostgreSQL: affected tables as JSON lines; text cut shorter, both: the values cut, as
    JSON lines appended by each batch, backup.py). A no-op plan records nothing.
    `keyring` is needed only when encrypted values must change (renames, newly encrypted fields).
    Data rewrites (encrypting, re-encrypting, filling, cutting) run after the commit in
    batches (rewrites.py), each reported to `on_progress`; a kill leaves them for the next
    run to finish.
    """
    plan.check(allow_data_loss=allow_data_loss)
    if plan.is_empty:
        return MigrationResult(False, [])
    for step in plan.steps:
        if isinstance(step, KeyringStep):
            if keyring is None:
                raise MigrationError(
                    f"{step.describe()}: the encryption keys are needed "
                    "(set CRM_ENCRYPTION_KEYS or the key file); nothing was changed"
                )
            step.keyring = keyring
    summary = [line.strip() for line in plan.describe()]
    sqlite = is_sqlite(engine)
    later = [] if sqlite else [step for step in plan.steps if step.concurrently()]
    rewrites = _rewrites(plan)
    after = {id(step) for step, planned in rewrites if not planned.in_transaction}
    now = [step for step in plan.steps if step not in later and id(step) not in after]
    cuts = {id(step) for step, planned in rewrites if planned.step == "cut" and step.loses_data}
    losing_tables = sorted({s.table for s in plan.data_losing if id(s) not in cuts})
    folder = backup_folder(backup_dir, engine) if cuts or (losing_tables and not sqlite) else None
    rewrites = [(step, _backed_up(planned, folder) if id(step) in cuts else planned) for step, planned in rewrites]
    sqlite_copy = folder if folder is not None and cuts else backup_dir  # the cut values beside the copy
    backup = write_backup(engine, None, losing_tables, sqlite_copy) if losing_tables and sqlite else None
    try:
        with engine.connect() as connection:
            drops = _drop_backup(connection, losing_tables, folder) if losing_tables and not sqlite else None
            if sqlite:
                _sqlite_foreign_keys(connection, False)
            connection.execution_options(writes=True)  # SQLite: BEGIN IMMEDIATE, waits for writers in flight
            try:
                with connection.begin():
                    hold_off_writers(connection)
                    if drops is not None:  # only the rows changed since the copy, while writers wait
                        backup = drops.catch_up(connection)
                    elif losing_tables and not sqlite:
                        backup = write_backup(engine, connection, losing_tables, folder)
                    run_steps(Operations(MigrationContext.configure(connection)), now)
                    summary += [
                        f"{s.table}: copied to change the type of {s.column} (SQLite does not allow editing its schema)"
                        for s in now
                        if isinstance(s, ChangeType) and s.refused
                    ]
                    if sqlite:
                        _check_sqlite_foreign_keys(connection)
                    history_id = history.record(
                        connection,
                        applied_by=applied_by,
                        summary=summary,
                        tables=plan.blueprint_tables,
                        blueprint_hash=blueprint_hash or hash_of(plan.entities),
                        blueprint_json=blueprint_json if blueprint_json is not None else json_of(plan.entities),
                    )
                    for _step, planned in rewrites:
                        schedule(connection, history_id, planned)
                    bump_all(connection)  # cached reports read the old tables: stale in every process
            except BaseException:
                if drops is not None and not connection.invalidated:
                    with contextlib.suppress(sa.exc.DBAPIError):
                        drops.discard(connection)
                raise
            finally:
                if sqlite:
                    _sqlite_foreign_keys(connection, True)
    except sa.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise MigrationError(f"the migration failed and was rolled back (nothing changed): {reason}") from None
    build_concurrently(engine, later)
    if rewrites:
        extra = {"batch_size": batch_size} if batch_size else {}
        run_pending_rewrites(engine, keyring, on_progress=on_progress, **extra)
    return MigrationResult(True, summary, backup or folder, history_id)


def _drop_backup(connection: sa.Connection, tables: list[str], folder: Path | None) -> DropBackup | None:
    """PostgreSQL: back up the tables losing data before writers are held off (drop_backup.py), if it can."""
    if folder is None:
        return None
    with connection.begin():
        if not has_ids(connection, tables):
            return None  # then the whole dump runs under the lock, as it always did
    drops = DropBackup(tables, folder)
    try:
        drops.snapshot(connection)
    except OSError as exc:
        drops.discard(connection)
        raise MigrationError(f"could not write the backup into {folder}: {exc}; nothing was changed") from None
    return drops


def _backed_up(planned: PlannedRewrite, folder: Path | None) -> PlannedRewrite:
    """A cut that appends the values it cuts to `<table>.<column>.jsonl` in this migration's backup folder."""
    assert folder is not None
    path = folder / f"{planned.table}.{planned.column}.jsonl"
    return replace(planned, detail={**planned.detail, "backup": str(path)})


def _rewrites(plan: MigrationPlan) -> list[tuple[Step, PlannedRewrite]]:
    """The steps whose data is rewritten in batches after the commit, in plan order."""
    return [(step, planned) for step in plan.steps if (planned := step.deferred(plan.dialect)) is not None]


def build_concurrently(engine: sa.Engine, steps: list[Step]) -> None:
    """PostgreSQL: the index steps, after the commit, in autocommit, without blocking writers (indexes.py).

    If one fails (or the process is killed), the schema change stands; the next
    `crm migrate` finds the missing or INVALID index and builds it again.
    """
    if not steps:
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for step in steps:
            try:
                for statement in step.concurrently():
                    connection.exec_driver_sql(statement)
            except sa.exc.DBAPIError as exc:
                reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
                raise MigrationError(
                    f"the migration was applied, but {step.describe()} failed: {reason}; "
                    "run crm migrate again to build it"
                ) from None


def _copy_source(plan: MigrationPlan) -> Callable[[str], sa.Table | None]:
    """For SQLite dry runs: each table as the alterations will find it (renamed, columns added)."""

    def source(table: str) -> sa.Table | None:
        live = plan.live_tables.get(table)
        if live is None:
            return None
        copy = live.to_metadata(sa.MetaData())
        for step in plan.steps:
            if isinstance(step, AddColumn) and step.table == table and step.column.name not in copy.c:
                copy.append_column(step.plain_column())
            if isinstance(step, ChangeType) and step.table == table and step.in_place:
                copy.c[step.column].type = step.new_type  # changed in place before any copy
        return copy

    return source


def migration_sql(engine: sa.Engine, plan: MigrationPlan) -> str:
    """The SQL `plan` would run, without touching the database (`crm migrate --dry-run`)."""
    buffer = io.StringIO()
    for line in plan.describe():
        buffer.write(f"-- {line.strip()}\n")
    if plan.is_empty:
        buffer.write("-- nothing to do: the database matches the blueprint\n")
        return buffer.getvalue()
    buffer.write("\n")
    context = MigrationContext.configure(
        dialect_name=engine.dialect.name, opts={"as_sql": True, "output_buffer": buffer, "literal_binds": True}
    )
    later = [step for step in plan.steps if step.concurrently()] if plan.dialect == "postgresql" else []
    rewrites = _rewrites(plan)
    after = {id(step) for step, planned in rewrites if not planned.in_transaction}
    now = [s for s in plan.steps if s not in later and id(s) not in after]
    run_steps(Operations(context), now, copy_from=_copy_source(plan))
    if later:
        buffer.write("\n-- after the transaction has committed, one by one, without blocking writes:\n")
        for step in later:
            for statement in step.concurrently():
                buffer.write(f"{statement};\n")
    if rewrites:
        buffer.write("\n-- then the data, in committed batches by id (resumable after a kill):\n")
        for step, planned in rewrites:
            job = Rewrite(0, 0, planned.step, planned.table, planned.column, 0, 0, planned.detail)
            kind = kind_of_rewrite(planned.step)
            buffer.write(f"-- {kind.describe(job)}\n")
            checks = kind.statements(job, engine.dialect.identifier_preparer.quote) if isinstance(kind, Cut) else []
            if checks:  # PostgreSQL (length_checks.py)
                buffer.write("-- then a length check instead of a type change (no table rewrite), after a last pass:\n")
                buffer.writelines(f"{statement};\n" for statement in checks)
            elif id(step) in after:
                run_steps(Operations(context), [step])
    return buffer.getvalue()
