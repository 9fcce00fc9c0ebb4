"""The bulk write path: many writes in one transaction, each through the whole lifecycle of `write_in`.

One transaction per record costs a commit (an fsync on SQLite, a round trip on
PostgreSQL) per record: seeding 100,000 patients that way took hours. A batch keeps
every rule per row (grant, types, defaults, computed values, validations, links,
unique values, encryption, audit, timers and what the write sets off) and commits
once. `crm seed` and `crm import` both write through it.

Each row is isolated: a row the rules refuse leaves the batch as it was, and its
result says why (`RowResult`); the caller goes on with the next row. The row's
savepoint is said to the driver directly (SQLAlchemy's nested transactions cost two
full statement executions per row) and only once the row starts writing: most
refusals come from the checks before anything is written, and need none.

The audit entries of a batch are kept on the connection and inserted with one
executemany just before the commit (a row rolled back drops its own): the same
entries, in the same order, one statement instead of one per row.

Judgements that hold within the transaction are made once per batch: a link's
`filter:` passed by a target for the same values (forgotten when the batch writes the
target's entity, or when automations act), and, for the system actor, the existence of
a linked record, the batch's own new records included (forgotten if the batch rolls back).

Unique values are left to the database's unique constraints, which each row meets
behind its savepoint: a taken value refuses the row with the same `unique` error as
a single write's look-up, without a query per row (a row with other errors as well
is refused for those first; then for the taken value alone, when it comes back).

A refusal is returned, not counted: a caller whose actor sees a field masked counts
its rows' "already used" answers as masked look-ups (`count_unique_probe`), as the
importer does once its batch is over.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from builder.storage.database import write_transaction
from builder.system_tables import audit as audit_table

from .actor import Actor
from .auditing import PENDING_AUDIT
from .automations import Written, react
from .errors import Conflict, FieldError, NotFound, PermissionDenied, RecordError, ValidationFailed
from .link_filters import PASSED_LINK_FILTERS
from .scope_locks import BATCH_HELD

if TYPE_CHECKING:
    from .policy import Grant
    from .service import RecordService

KNOWN_LINKS = "crm_batch_known_links"  # conn.info key: (entity, id) pairs a batch's writes found to exist
ROW = "crm_batch_row"  # conn.info key: the batch's RowSavepoints
REFUSALS = (ValidationFailed, Conflict, PermissionDenied, NotFound)


@dataclass(frozen=True)
class RowResult:
    """What one row came to: `created` or `updated` (with what was written) or `refused` (and why)."""

    outcome: str
    written: Written | None = None
    reread: dict[str, Any] | None = None  # the record read again, when automations may have changed it
    refused: RecordError | None = None

    @property
    def record(self) -> dict[str, Any] | None:
        """The record as the actor now sees it (presented when first asked: an import never asks)."""
        if self.reread is not None:
            return self.reread
        return self.written.presented if self.written is not None else None

    @property
    def ok(self) -> bool:
        return self.refused is None

    @property
    def errors(self) -> list[FieldError]:
        """The field errors of a ValidationFailed refusal (none for the other kinds)."""
        return self.refused.errors if isinstance(self.refused, ValidationFailed) else []


class RowSavepoints:
    """The rows' savepoints, said to the driver; a row takes its own when it starts writing.

    Straight to the DBAPI cursor: through SQLAlchemy (even `exec_driver_sql`) a savepoint and
    its release cost twenty times as much, a good part of a row's time. The batch's transaction
    stays SQLAlchemy's, and so does every other statement. A written row's savepoint is released
    by the next row's taking its own (`RELEASE; SAVEPOINT`, one round trip on PostgreSQL), or by
    the commit: one statement per written row, none for a row the checks refuse.
    """

    NAME = "crm_batch_row"

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self.cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        self.joined = conn.dialect.name == "postgresql"  # SQLite's driver runs one statement a call
        self.open = False  # a savepoint stands: the current row's or the last written one's
        self.taken = False  # the current row took its own

    def begin_row(self) -> None:
        self.taken = False

    def take(self) -> None:
        if self.open:
            self._say(f"RELEASE SAVEPOINT {self.NAME}", f"SAVEPOINT {self.NAME}")
        else:
            self._say(f"SAVEPOINT {self.NAME}")
        self.open = self.taken = True

    def rollback(self) -> None:
        """Undo the current row (if it wrote anything); earlier rows stay."""
        if self.taken:
            self._say(f"ROLLBACK TO SAVEPOINT {self.NAME}", f"RELEASE SAVEPOINT {self.NAME}")
            self.open = self.taken = False

    def rollback_unless_lost(self) -> None:
        """On the way out of an exception. Ctrl-C inside a statement makes SQLAlchemy drop the connection;
        the savepoint went with it, and touching it would raise a PendingRollbackError over the Ctrl-C.
        The batch's transaction rollback is what ends that connection."""
        if not self.conn.invalidated:
            self.rollback()

    def _say(self, *statements: str) -> None:
        if self.joined:
            self.cursor.execute("; ".join(statements))
        else:
            for statement in statements:
                self.cursor.execute(statement)


def in_batch(conn: sa.Connection) -> bool:
    """Is `conn` a batch's, whose rows each write behind their own savepoint?"""
    return conn.info.get(ROW) is not None


def starting_to_write(conn: sa.Connection) -> None:
    """`write_in` calls this just before its first write: a batch row's savepoint is taken then."""
    savepoints: RowSavepoints | None = conn.info.get(ROW)
    if savepoints is not None and not savepoints.taken:
        savepoints.take()


class Batch:
    """Writes as one actor within one open transaction (see `open_batch`); `conn` is that transaction's."""

    def __init__(self, service: RecordService, conn: sa.Connection, actor: Actor):
        self.service, self.conn, self.actor = service, conn, actor
        self.info = conn.info  # kept: an invalidated connection (Ctrl-C in a statement) refuses `.info`
        self.written = 0
        self.audit: list[dict[str, Any]] = []
        self._grants: dict[tuple[str, str], Grant] = {}
        self.savepoints = RowSavepoints(conn)
        self.passed_filters: dict[str, set[Any]] = {}  # link filters judged in this batch (link_filters.py)
        self.made: set[tuple[str, Any]] = set()  # records this batch created: links to them need no look-up

    def create(self, entity_name: str, values: Mapping[str, Any], *, made_at: dt.datetime | None = None) -> RowResult:
        """Create one record (as `RecordService.create`); `made_at` only when seeding (see `write_in`)."""
        return self.write(entity_name, None, values, None, made_at=made_at)

    def update(self, entity_name: str, record_id: int, values: Mapping[str, Any], version: int | None) -> RowResult:
        return self.write(entity_name, record_id, values, version)

    def write(
        self,
        entity_name: str,
        record_id: int | None,
        values: Mapping[str, Any],
        version: int | None,
        *,
        made_at: dt.datetime | None = None,
    ) -> RowResult:
        """One row through the whole lifecycle; a refusal rolls back this row alone and is returned."""
        creating = record_id is None
        audited = len(self.audit)
        self.savepoints.begin_row()
        try:
            written, reread = self._write_in(entity_name, record_id, values, version, made_at)
        except REFUSALS as refused:
            self._undo(audited)
            return RowResult("refused", refused=refused)
        except BaseException:
            # Not a refusal: the batch rolls back whole. The row's savepoint is undone only if the
            # connection still stands (not after a Ctrl-C inside a statement, see `rollback_unless_lost`).
            self._undo(audited)
            raise
        self.written += 1
        return RowResult("created" if creating else "updated", written, reread)

    def _write_in(
        self,
        entity_name: str,
        record_id: int | None,
        values: Mapping[str, Any],
        version: int | None,
        made_at: dt.datetime | None,
    ) -> tuple[Written, dict[str, Any] | None]:
        service = self.service
        entity = service.entity(entity_name)
        grant = self._grant(entity_name, "create" if record_id is None else "write")
        run = service.new_run(self.conn)
        written = service.write_in(self.conn, self.actor, entity, grant, record_id, values, version, made_at=made_at)
        change = written.change("created" if record_id is None else "updated")
        acted = react(service, run, change, events=self.actor.sets_off)
        if acted:  # automations may have changed any record: every filter is judged afresh
            self.passed_filters.clear()
        else:  # what a link's filter reads of this entity may have changed
            self.passed_filters.pop(entity_name, None)
        if record_id is None and self.actor.system and entity_name in service.linked_to:
            # It exists in this transaction: a system link to it needs no look-up (`_check_links`).
            self.made.add((entity_name, written.record_id))
            self.info[KNOWN_LINKS].add((entity_name, written.record_id))
        # Read again within the batch's transaction if automations acted; else presented only if asked for.
        return written, service.reread(self.conn, self.actor, entity, grant, written) if acted else None

    def _grant(self, entity_name: str, action: str) -> Grant:
        key = (entity_name, action)
        grant = self._grants.get(key)
        if grant is None:
            grant = self._grants[key] = self.service.policy.require(self.actor, entity_name, action)
        return grant

    def _undo(self, audited: int) -> None:
        wrote = self.savepoints.taken
        self.savepoints.rollback_unless_lost()
        del self.audit[audited:]
        if wrote:  # what the undone row found or locked after its savepoint is undone with it
            self.info[KNOWN_LINKS].clear()
            self.info[BATCH_HELD] = set()

    def flush(self) -> None:
        """Insert the audit entries kept so far (one executemany)."""
        if self.audit:
            self.conn.execute(audit_table.insert(), self.audit)
            self.audit.clear()


class _DryRun(Exception):
    """Raised at the end of a dry run's block: the transaction rolls back, as for any error."""


@contextlib.contextmanager
def open_batch(
    service: RecordService, actor: Actor, *, dry_run: bool = False, known_links: set[tuple[str, Any]] | None = None
) -> Iterator[Batch]:
    """A batch committed when the block ends (rolled back instead with `dry_run`); rolled back whole if it raises.

    Work the caller does on `batch.conn` inside the block (an import marks its rows done) is part of it.
    The system's links found to exist (or made by the batch) are not looked up again within the batch (it
    deletes nothing), nor in later batches given the same `known_links` (the seeder's batches share one): a record
    another writer deleted in between is still refused by the link's foreign key, as a conflict.
    """
    made: set[tuple[str, Any]] = set()
    try:
        with write_transaction(service.engine) as conn:
            batch = Batch(service, conn, actor)
            batch.made = made
            batch.info[KNOWN_LINKS] = known_links if known_links is not None else set()
            batch.info[PENDING_AUDIT] = batch.audit
            batch.info[BATCH_HELD] = set()
            batch.info[ROW] = batch.savepoints
            batch.info[PASSED_LINK_FILTERS] = batch.passed_filters
            try:
                yield batch
                if dry_run:
                    raise _DryRun
                batch.flush()
            finally:
                for key in (KNOWN_LINKS, PENDING_AUDIT, BATCH_HELD, ROW, PASSED_LINK_FILTERS):
                    batch.info.pop(key, None)
    except _DryRun:
        _forget_made(made, known_links)
    except BaseException:
        _forget_made(made, known_links)
        raise


def _forget_made(made: set[tuple[str, Any]], known_links: set[tuple[str, Any]] | None) -> None:
    """The records a batch made were rolled back with it: later batches sharing `known_links` look again."""
    if known_links is not None:
        known_links.difference_update(made)
