"""Read what a batch of deliveries needs on one connection: records as the system sees them, accounts.

Records are decoded and decrypted like the record service's link loader does (every
field: the system's view), fetched many at a time and cached for the batch, so the
patient of fifty reminders is read once and a batch costs a few queries, not a few per
row. These reads are not written to the audit trail: the system reading a record to
send the message an automation asked for is not a person viewing it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from ..records import RecordService
from ..records.codec import decode
from ..records.links import LinkLoader
from ..storage.database import is_sqlite
from ..storage.id_lists import among
from ..system_tables import users

PREFETCH_CHUNK = 500


class Reader:
    """One connection's reads for delivering a batch (open it with `with Reader(...)`)."""

    def __init__(self, records: RecordService):
        self.records = records
        self._conn: sa.Connection | None = None
        self._loader: LinkLoader | None = None
        self._accounts: dict[tuple[str | None, int | None], list[Any]] = {}
        self.sent: dict[str, int] = {}  # messages sent in this batch per person, not yet recorded

    def __enter__(self) -> Reader:
        self._conn = self.records.engine.connect()
        if not is_sqlite(self._conn):  # no transaction left idle while a slow gateway is waited for
            self._conn = self._conn.execution_options(isolation_level="AUTOCOMMIT")
        self._service_loader = self.records.link_loader(self._conn)
        self._primed: dict[tuple[str, int], dict[str, Any]] = {}
        self._loader = LinkLoader(self._fetch, self.records.link_targets)
        return self

    def _fetch(self, entity: str, record_id: int) -> dict[str, Any] | None:
        primed = self._primed.get((entity, record_id))
        return primed if primed is not None else self._service_loader.record(entity, record_id)

    def prefetch(self, entity: str, ids: Iterable[int]) -> None:
        """Read many records of `entity` in one query (decoded like the service's loader does)."""
        wanted = sorted({i for i in ids if isinstance(i, int) and (entity, i) not in self._primed})
        if not wanted or entity not in self.records.entities:
            return
        assert self._conn is not None
        table = self.records.schema.table(entity)
        fields = self.records.entities[entity].stored_fields
        for start in range(0, len(wanted), PREFETCH_CHUNK):
            chunk = wanted[start : start + PREFETCH_CHUNK]
            rows = self._conn.execute(sa.select(table).where(among(self._conn, table.c.id, chunk)))
            for row in rows:
                values = decode(fields, row, entity, self.records.cipher)
                self._primed[(entity, row.id)] = {"id": row.id, **values}

    def prefetch_rows(self, rows: Iterable[Any]) -> None:
        """The records a batch of outbox rows is about, and the first hop of their recipients."""
        rows = list(rows)
        by_entity: dict[str, set[int]] = {}
        for row in rows:
            by_entity.setdefault(row.entity, set()).add(row.record_id)
        for entity, ids in by_entity.items():
            self.prefetch(entity, ids)
        hops: dict[str, set[int]] = {}
        for row in rows:
            link = row.recipient.split(".")[0]
            target = self.records.link_targets(row.entity).get(link) if row.entity in self.records.entities else None
            value = self._primed.get((row.entity, row.record_id), {}).get(link)
            if target is not None and isinstance(value, int):
                hops.setdefault(target, set()).add(value)
        for entity, ids in hops.items():
            self.prefetch(entity, ids)

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._loader = None

    @property
    def loader(self) -> LinkLoader:
        assert self._loader is not None, "use the Reader in a with block"
        return self._loader

    def record(self, entity: str, record_id: int) -> dict[str, Any] | None:
        """The record's stored values with its id, or None when it is gone."""
        found = self.loader.record(entity, record_id)
        return dict(found) if found is not None else None

    def context(self, entity: str, record: dict[str, Any]) -> dict[str, Any]:
        """`record` with its links as lazily loaded records, for templates and expressions."""
        return self.loader.wrap(entity, record)

    def accounts(self, *, role: str | None = None, user_id: int | None = None) -> list[Any]:
        """Active accounts of a role, or the one account `user_id` (if active): (id, locale) rows."""
        key = (role, user_id)
        if key not in self._accounts:
            assert self._conn is not None
            query = sa.select(users.c.id, users.c.locale).where(users.c.disabled == sa.false())
            query = query.where(users.c.role == role) if role is not None else query.where(users.c.id == user_id)
            self._accounts[key] = list(self._conn.execute(query.order_by(users.c.id)).all())
        return self._accounts[key]
