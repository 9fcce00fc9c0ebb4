"""Run record-service calls off the event loop.

The record service is synchronous (SQLAlchemy Core); pages and API endpoints are
async, so each call runs in Starlette's thread pool. Concurrent writers are safe on
both databases: SQLite transactions that may write take the write lock up front
(builder/storage/database.py), PostgreSQL runs them concurrently.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool

from builder.records import RecordService

T = TypeVar("T")


async def run_write(service: RecordService, write: Callable[..., T], *args: Any) -> T:
    """Run `write(*args)` (a record-service call) in a worker thread."""
    return await run_in_threadpool(write, *args)
