"""One writer at a time on SQLite.

SQLite lets only one transaction write; two deferred transactions that both read
and then write deadlock, and one fails at once with "database is locked" (a 500).
Within one server process the web layer therefore runs record-service writes one
after another when the database is SQLite (reads of one record too: viewing PHI
writes an audit entry); PostgreSQL runs them concurrently.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, TypeVar

from starlette.concurrency import run_in_threadpool

from builder.records import RecordService

T = TypeVar("T")
_SQLITE_WRITER = threading.Lock()


def _guard(service: RecordService) -> contextlib.AbstractContextManager:
    return _SQLITE_WRITER if service.engine.dialect.name == "sqlite" else contextlib.nullcontext()


async def run_write(service: RecordService, write: Callable[..., T], *args: Any) -> T:
    """Run `write(*args)` in a worker thread, serialised on SQLite."""

    def guarded() -> T:
        with _guard(service):
            return write(*args)

    return await run_in_threadpool(guarded)
