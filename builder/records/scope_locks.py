"""Rules that read other rows are race-free: writers of the same scope take turns.

`not overlaps('appointment', doctor=doctor, ...)` reads the doctor's appointments and
the write that follows adds one; two writers doing both at once would both see a free
slot. So in a write transaction every related-rows query first takes the lock of its
scope: the entity it queries plus its equality conditions (`appointment`, doctor 7),
or the entity alone when it has none. A second writer of the same scope waits until
the first commits and then sees its row. Reads (explanations, pages) take no locks.
A batch (batch.py) remembers the locks its transaction took, so each is taken once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from builder.storage.locks import ScopeBusy, lock_scope_without_deadlock, scope_key
from engines.rules import RuleError

BATCH_HELD = "crm_batch_scopes"  # conn.info key: the scope locks a batch's transaction holds (batch.py)


class RuleScopes:
    """The scope locks one write transaction holds (PostgreSQL; nothing to do on SQLite)."""

    def __init__(self, conn: sa.Connection) -> None:
        self.conn = conn
        self.active = bool(conn.get_execution_options().get("writes")) and conn.dialect.name == "postgresql"
        # In a batch the transaction's locks outlive each row's write: a scope locked once stays locked.
        held: set[int] | None = conn.info.get(BATCH_HELD) if self.active else None
        self.held: set[int] = held if held is not None else set()

    def hold(self, entity: str, equalities: Mapping[str, Sequence[Any]]) -> None:
        """Take the lock of `entity` restricted to `equalities` (column -> stored values) before reading it."""
        if not self.active:
            return
        key = scope_key("rows", entity, sorted((name, sorted(map(str, values))) for name, values in equalities.items()))
        if key in self.held:
            return
        try:
            lock_scope_without_deadlock(self.conn, key, holding=bool(self.held))
        except ScopeBusy as exc:
            raise RuleError(str(exc)) from None
        self.held.add(key)
