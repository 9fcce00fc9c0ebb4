"""Many writes in one transaction, each through the whole lifecycle of `RecordService.write_in`.

One transaction per record costs a commit (an fsync on SQLite, a round trip on
PostgreSQL) per record: seeding 100,000 patients that way took hours. A batch keeps
every rule per row (grant, types, defaults, computed values, validations, links,
unique values, encryption, audit, timers and what the write sets off) and commits
once. Each write runs in a savepoint, so a row the rules refuse (ValidationFailed)
leaves the batch as it was and the caller may try another; any other error ends the
batch and rolls all of it back.

Seeding (`SEEDING`, which sets nothing off) skips the savepoints: its refusals all come
from the checks before anything is written; one that comes later (a unique value taken
by another writer in between) ends the batch as BatchBroken.

Batches are for the system's own writers (seeding, imports run by an admin): a refused
row's "already used" answer is not counted as a masked look-up here, so a role that
sees a field masked must write through `RecordService.create` one by one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from builder.storage.database import write_transaction

from .actor import Actor
from .automations import react
from .errors import PermissionDenied, ValidationFailed

if TYPE_CHECKING:
    from .service import RecordService

KNOWN_LINKS = "crm_batch_known_links"  # conn.info key: (entity, id) pairs a batch's writes found to exist
WRITING = "crm_batch_writing"  # conn.info key: set by write_in once its checks passed and it starts writing


class BatchBroken(RuntimeError):
    """A write was refused after it had started writing: without a savepoint the batch cannot go on."""


class Batch:
    """Writes as one actor within one open transaction (see `open_batch`)."""

    def __init__(self, service: RecordService, conn: sa.Connection, actor: Actor):
        self.service, self.conn, self.actor = service, conn, actor
        self.written = 0

    def create(self, entity_name: str, values: Mapping[str, Any], *, made_at: dt.datetime | None = None) -> dict:
        """Create one record (as `RecordService.create`); `made_at` only when seeding (see `write_in`)."""
        return self._write(entity_name, None, values, None, made_at)

    def update(self, entity_name: str, record_id: int, values: Mapping[str, Any], version: int | None) -> dict:
        return self._write(entity_name, record_id, values, version, None)

    def _write(
        self,
        entity_name: str,
        record_id: int | None,
        values: Mapping[str, Any],
        version: int | None,
        made_at: dt.datetime | None,
    ) -> dict:
        service = self.service
        entity = service.entity(entity_name)
        grant = service.policy.require(self.actor, entity_name, "create" if record_id is None else "write")
        if self.actor.sets_off:  # automations may refuse after the write: a savepoint undoes the row alone
            with self.conn.begin_nested():
                presented = self._write_in(entity, grant, record_id, values, version, made_at)
        else:
            # Writing history sets nothing off: every refusal comes from write_in's checks, before
            # anything is written, so the row needs no savepoint (two round trips less per row).
            # A refusal after writing began (a unique value taken meanwhile) ends the batch.
            self.conn.info[WRITING] = False
            try:
                presented = self._write_in(entity, grant, record_id, values, version, made_at)
            except ValidationFailed as refused:
                if self.conn.info.get(WRITING):
                    raise BatchBroken(f"{entity_name}: refused after writing began ({refused})") from None
                raise
        self.written += 1
        return presented

    def _write_in(
        self,
        entity: Any,
        grant: Any,
        record_id: int | None,
        values: Mapping[str, Any],
        version: int | None,
        made_at: dt.datetime | None,
    ) -> dict:
        service = self.service
        run = service.new_run(self.conn)
        written = service.write_in(self.conn, self.actor, entity, grant, record_id, values, version, made_at=made_at)
        change = written.change("created" if record_id is None else "updated")
        acted = react(service, run, change, events=self.actor.sets_off)
        return service.reread(self.conn, self.actor, entity, grant, written) if acted else written.presented


@contextlib.contextmanager
def open_batch(service: RecordService, actor: Actor) -> Iterator[Batch]:
    """A batch committed when the block ends, rolled back whole if it raises."""
    if not actor.system:
        raise PermissionDenied("only the system writes in batches")
    with write_transaction(service.engine) as conn:
        conn.info[KNOWN_LINKS] = set()  # records deleted in a batch are not looked up again: none are
        try:
            yield Batch(service, conn, actor)
        finally:
            conn.info.pop(KNOWN_LINKS, None)
