"""The database engine: one place that knows how SQLite and PostgreSQL are set up.

SQLite needs care to behave like a real database: foreign keys are off unless every
connection turns them on, readers block writers unless the journal is WAL, and the
Python driver does not open transactions before DDL (so a failed migration would
be half applied). PostgreSQL goes through psycopg 3 whatever driver the URL names.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from builder.errors import ProjectError

from .liveness import ping_after_idle
from .private_files import create_private_file

SQLITE_CACHE_KB = 64_000
SQLITE_BUSY_TIMEOUT_MS = 5000
SQLITE_WRITE_LOCK_POLL_SECONDS = 0.001  # how often a writer waiting for SQLite's write lock tries again
SQLITE_QUICK_WAIT_MS = 50  # how long SQLite's own busy handler waits for the write lock first (see _begin_immediate)
CONNECT_TIMEOUT_SECONDS = 5


def safe_url(url: str | sa.URL) -> str:
    """The URL as it may be shown to a user: without its password."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable database URL>"


def normalise_url(url: str) -> sa.URL:
    """Parse `url`, sending every PostgreSQL URL to the psycopg 3 driver."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ProjectError(
            f"`{safe_url(url)}` is not a database URL (use sqlite:///path/to/file.sqlite3 or postgresql://user@host/db)"
        ) from None
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite(engine: sa.Engine | sa.Connection) -> bool:
    return engine.dialect.name == "sqlite"


def _configure_sqlite(engine: sa.Engine) -> None:
    """Foreign keys, WAL, a busy timeout and a bigger page cache on every connection; real BEGIN for DDL."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the driver) decide where transactions start, so that
        # DDL is transactional too; the "begin" listener below emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Up to 64 MB of pages per connection (SQLite's default is 2 MB), filled only as pages are read:
        # a table's indexes stay in memory while rows go in (at 1M records a write touched evicted pages).
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A transaction that reads and then writes says so (`writes=True`, see
        # `write_transaction`) and takes the write lock up front: two deferred ones
        # would deadlock and one fail at once. Others stay deferred, and readers
        # never wait for writers under WAL.
        if connection.get_execution_options().get("writes", False):
            _begin_immediate(connection)
        else:
            connection.exec_driver_sql("BEGIN")


def _begin_immediate(connection: sa.Connection) -> None:
    """BEGIN IMMEDIATE: SQLite's own wait first, then a try every millisecond, up to the busy timeout.

    SQLite's busy handler sleeps longer and longer between tries (1, 2, 5, 10 ms ..., 100 ms each
    after the first 0.2 s). A writer waiting behind back-to-back transactions (a migration's
    batches, an import's) got in only when a try happened to fall in the few milliseconds
    between two of them: at a million rows, requests during `crm migrate` waited 1.1–1.4 s
    (docs/performance.md). Trying every millisecond finds the first such gap. The first
    SQLITE_QUICK_WAIT_MS are still SQLite's: its handler waits in C without holding Python's
    GIL, so the requests of one server queued for each other's short writes (a list's read
    audit) do not take turns with the writer they wait for, as pollers in Python would
    (bench/api.py's list fell from 0.85 to 0.75 of the baseline). Only for BEGIN IMMEDIATE:
    other waits keep SQLite's handler.
    """
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute(f"PRAGMA busy_timeout={SQLITE_QUICK_WAIT_MS}")
    try:
        deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000  # the quick wait included
        with contextlib.suppress(sa.exc.OperationalError):  # busy or not, the loop below says
            connection.exec_driver_sql("BEGIN IMMEDIATE")  # through SQLAlchemy, seen by its events
            return
        raw.execute("PRAGMA busy_timeout=0")
        while time.monotonic() < deadline:
            try:  # straight to the driver: a refusal through SQLAlchemy costs a wrapped exception (0.1 ms)
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    break
            time.sleep(SQLITE_WRITE_LOCK_POLL_SECONDS)
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # once more, through SQLAlchemy: its error if refused
    finally:
        raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")


def _is_busy(exc: Exception) -> bool:
    """SQLITE_BUSY: another connection holds the write lock ("database is locked")."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


@dataclass(frozen=True)
class WritePreamble:
    """A statement every writing transaction on an engine runs first, and what to make of its row.

    Processes that must agree with the database before they write (the active encryption key,
    the migrated blueprint) each register one. `sql` is a single SELECT with its constants
    inlined: an engine's preambles go to PostgreSQL as one multi-statement round trip at BEGIN
    (three round trips each write once cost as much as the write), and to SQLite one by one.
    Each statement still gets its own snapshot, so one that waits on a lock reads after it.
    """

    order: int  # lower runs first
    sql: str
    take: Callable[[Any], None]  # the first row, a tuple to index (or None); raises to refuse the write


_PREAMBLES: weakref.WeakKeyDictionary[sa.Engine, dict[str, WritePreamble]] = weakref.WeakKeyDictionary()


def add_write_preamble(engine: sa.Engine, name: str, preamble: WritePreamble) -> None:
    """Run `preamble` at the start of every transaction on `engine` that says it writes (`writes=True`,
    as `write_transaction` does); registering the same name again replaces it."""
    if engine not in _PREAMBLES:
        _PREAMBLES[engine] = {}
        event.listen(engine, "begin", _run_preambles)
    _PREAMBLES[engine][name] = preamble


def remove_write_preamble(engine: sa.Engine, name: str) -> None:
    _PREAMBLES.get(engine, {}).pop(name, None)


def literal_sql(engine: sa.Engine, statement: sa.ClauseElement) -> str:
    """`statement` as SQL text for `engine`, its (constant) parameters inlined, for a WritePreamble."""
    return str(statement.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True}))


def _run_preambles(connection: sa.Connection) -> None:
    options = connection.get_execution_options()
    if not options.get("writes", False) or not options.get("checks", True):
        return
    steps = sorted(_PREAMBLES.get(connection.engine, {}).values(), key=lambda p: p.order)
    if not steps:
        return
    if is_sqlite(connection):
        for step in steps:
            step.take(connection.exec_driver_sql(step.sql).first())
        return
    result = connection.exec_driver_sql("; ".join(step.sql for step in steps))
    cursor = result.cursor
    rows = []
    for index in range(len(steps)):
        if index and not cursor.nextset():
            raise RuntimeError("a write preamble returned fewer results than it sent statements")
        rows.append(cursor.fetchone() if cursor.description else None)
    result.close()
    for step, row in zip(steps, rows, strict=True):
        step.take(row)


@contextlib.contextmanager
def write_transaction(engine: sa.Engine, *, checks: bool = True) -> Iterator[sa.Connection]:
    """A transaction that may read before it writes, safe with concurrent writers on every database.

    Its BEGIN runs the engine's write preambles: if the process follows the migrated
    blueprint (storage/blueprint_version.py), they check that no migration has landed since
    it loaded and hold migrations off until the commit. `checks=False` leaves them out, for
    a transaction that writes only the workers' own bookkeeping (the outbox's claims and
    outcomes): no record, no encrypted value, nothing a migration rewrites. Entities its writes noted
    (`table_versions.note_change`) get their change counters bumped just before it
    commits, so cached reports over them are stale from then on.
    """
    from .table_versions import flush_changes, forget_changes

    with engine.connect() as conn:
        conn.execution_options(writes=True, checks=checks)
        forget_changes(conn)
        with conn.begin():
            yield conn
            flush_changes(conn)


def create_private_sqlite_file(database: str | None) -> None:
    """Create a missing SQLite file with mode 0600 before SQLite does (it would use the umask, often 0644).

    SQLite gives its -wal and -shm files the database file's permissions, so they follow.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if path.exists() or not path.parent.is_dir():
        return
    try:
        create_private_file(path)
    except OSError as exc:
        raise ProjectError(f"cannot create the database file {path}: {exc.strerror}") from None


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The id an INSERT of one row gave it (SQLAlchemy types the key as optional, for bulk inserts)."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the insert returned no primary key")
    return int(key[0])


def make_engine(url: str, *, check: bool = True, **engine_options: Any) -> sa.Engine:
    """An engine for `url`, checked to be reachable (a clear ProjectError if not)."""
    parsed = normalise_url(url)
    # Never SQL parameters in errors or logs: they are patient data (a phone, a resident ID).
    options: dict[str, Any] = {**engine_options, "hide_parameters": True}
    if parsed.get_backend_name() == "postgresql":
        options.setdefault("connect_args", {}).setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)
    if parsed.get_backend_name() == "sqlite":
        create_private_sqlite_file(parsed.database)
    try:
        engine = sa.create_engine(parsed, **options)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise ProjectError(f"cannot use the database `{safe_url(parsed)}`: {exc}") from None
    if is_sqlite(engine):
        _configure_sqlite(engine)
    elif not options.get("pool_pre_ping"):
        ping_after_idle(engine)
    if check:
        check_reachable(engine)
    return engine


@contextlib.contextmanager
def reading(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for reads only; on PostgreSQL in autocommit, so that a read is one round trip.

    In a transaction psycopg sends `BEGIN` before the first statement and the pool a
    `ROLLBACK` at its return: three round trips for the one query of a title lookup or a
    badge's count. Each statement of a READ COMMITTED transaction sees its own snapshot
    anyway, so reads lose nothing. Never for writes or locks (`write_transaction`).
    """
    with engine.connect() as connection:
        if not is_sqlite(connection):
            connection.execution_options(isolation_level="AUTOCOMMIT")
        yield connection


def check_reachable(engine: sa.Engine) -> None:
    """Open and close one connection; ProjectError naming the URL (no password) if that fails."""
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
        raise ProjectError(f"cannot reach the database at {safe_url(engine.url)}: {reason}") from None
