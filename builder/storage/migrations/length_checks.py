"""Shorter text on PostgreSQL without rewriting the table: the length lives in a CHECK constraint.

`ALTER COLUMN ... TYPE VARCHAR(10)` from a longer type rewrites the whole table under
an ACCESS EXCLUSIVE lock (about 6 s per million rows): every read and write waits. So
when a text field's `max_length` is lowered, PostgreSQL keeps the column's type and
gets a named constraint `CHECK (char_length(col) <= n)` instead, added `NOT VALID` (a
brief lock, no scan) once the batches have cut the values, then `VALIDATE CONSTRAINT`d,
which scans under SHARE UPDATE EXCLUSIVE: reads and writes go on.

The planner then reads a column's length as the smaller of its type's and its check's
(`effective_type`), so VARCHAR(100) with a check of 10 matches a blueprint's
`max_length: 10` as VARCHAR(10) would on a fresh database. Widening drops or replaces
the check. SQLite has no type lengths to enforce and never gets one.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .errors import MigrationError
from .types import kind_of

PREFIX = "ck_len_"
MAX_NAME = 63  # PostgreSQL's identifier length
LOCK_TIMEOUT = "1s"  # the longest a constraint change may keep the table's queue waiting
LOCK_ATTEMPTS = 30

_LIMIT = re.compile(r"char_length\(.*\)\s*<=\s*(\d+)\)*(?:\s+NOT VALID)?\s*$")

_FIND = sa.text(
    """
    SELECT c.relname, a.attname, con.conname, con.convalidated, pg_get_constraintdef(con.oid)
    FROM pg_constraint con
    JOIN pg_class c ON c.oid = con.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
    WHERE con.contype = 'c' AND con.conname LIKE 'ck\\_len\\_%' AND n.nspname = current_schema()
    """
)


@dataclass(frozen=True)
class LengthCheck:
    """A length constraint found on a live column."""

    name: str
    length: int
    valid: bool = True


def check_name(table: str, column: str) -> str:
    """`ck_len_<table>_<column>`, shortened with a hash when PostgreSQL would cut it."""
    name = f"{PREFIX}{table}_{column}"
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:10]
    return f"{name[: MAX_NAME - 11]}_{digest}"


def read_length_checks(connection: sa.Connection) -> dict[tuple[str, str], LengthCheck]:
    """{(table, column): its length check} on PostgreSQL; always empty on SQLite."""
    if connection.dialect.name != "postgresql":
        return {}
    found: dict[tuple[str, str], LengthCheck] = {}
    for table, column, name, valid, definition in connection.execute(_FIND):
        match = _LIMIT.search(definition)
        if match:
            found[(table, column)] = LengthCheck(name, int(match.group(1)), bool(valid))
    return found


def effective_type(declared: sa.types.TypeEngine, check: LengthCheck | None) -> sa.types.TypeEngine:
    """The type a column behaves as: VARCHAR(100) or TEXT with a check of 10 is VARCHAR(10)."""
    if check is None or kind_of(declared) not in ("text", "long_text"):
        return declared
    length = getattr(declared, "length", None)
    if kind_of(declared) == "text" and length is not None and length <= check.length:
        return declared
    return sa.String(check.length)


def type_comparer(checks: dict[tuple[str, str], LengthCheck]) -> Callable[..., bool | None]:
    """Alembic's `compare_type` hook: a checked column compares by its effective type, others as usual."""

    def compare(context: Any, live: sa.Column, target: sa.Column, live_type: Any, target_type: Any) -> bool | None:
        check = checks.get((live.table.name, live.name))
        if check is None:
            return None  # Alembic's own comparison
        effective = effective_type(live_type, check)
        if kind_of(target_type) != "text" or isinstance(target_type, sa.Enum):
            return True
        return getattr(target_type, "length", None) != effective.length  # type: ignore[attr-defined]

    return compare


def add_statement(quote: Callable[[str], str], table: str, column: str, name: str, length: int) -> str:
    return (
        f"ALTER TABLE {quote(table)} ADD CONSTRAINT {quote(name)} "
        f"CHECK (char_length({quote(column)}) <= {length}) NOT VALID"
    )


def validate_statement(quote: Callable[[str], str], table: str, name: str) -> str:
    return f"ALTER TABLE {quote(table)} VALIDATE CONSTRAINT {quote(name)}"


def drop_statement(quote: Callable[[str], str], table: str, name: str) -> str:
    return f"ALTER TABLE {quote(table)} DROP CONSTRAINT IF EXISTS {quote(name)}"


def with_brief_lock(engine: sa.Engine, statements: list[str]) -> None:
    """Run `statements` in one transaction that waits at most LOCK_TIMEOUT for the table's lock, retried.

    A constraint change needs ACCESS EXCLUSIVE for a moment; while it waits behind a
    long report, every later query on the table would queue behind it. Giving up after
    a second and trying again keeps that queue short.
    """
    for attempt in range(LOCK_ATTEMPTS):
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                for statement in statements:
                    connection.exec_driver_sql(statement)
            return
        except sa.exc.OperationalError as exc:
            if "lock timeout" not in str(exc.orig) or attempt == LOCK_ATTEMPTS - 1:
                raise
            time.sleep(0.2)
    raise MigrationError("could not take the table's lock")  # pragma: no cover - the loop returns or raises
