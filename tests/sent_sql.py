"""The SQL an engine is sent inside a block: what ran is behaviour a test can read (not a timing)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def sent_statements(engine: sa.Engine, keep: Callable[[str], bool] | None = None) -> Iterator[list[str]]:
    """Every statement sent to `engine` inside the block (those `keep` accepts), in order."""
    sent: list[str] = []

    def record(conn, cursor, statement, *args):
        if keep is None or keep(statement):
            sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
