"""Read what a batch of deliveries needs on one connection: records as the system sees them, accounts.

Records come through the record service's link loader (decoded and decrypted, every
field: the system's view), cached for the batch, so the patient of fifty reminders is
read once. These reads are not written to the audit trail: the system reading a record
to send the message an automation asked for is not a person viewing it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..records import RecordService
from ..records.links import LinkLoader
from ..system_tables import users


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
        self._loader = self.records.link_loader(self._conn)
        return self

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
