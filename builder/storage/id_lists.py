"""`column IN (ids)` as one array parameter on PostgreSQL: `column = ANY(:ids)`.

An IN list of 100 ids is 100 parameters, and a statement text of its own for every length:
psycopg re-parses such a statement in Python on every run (it caches none over 50
parameters) and PostgreSQL plans each length anew. One array parameter keeps the text the
same for every batch, so the driver caches it and the server runs it prepared. SQLite
takes the plain IN list (it has no arrays, and parsing costs it nothing to speak of).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from .database import is_sqlite


def among(conn: sa.Connection, column: sa.ColumnElement[Any], ids: Collection[int]) -> sa.ColumnElement[bool]:
    """`column` is one of `ids` (integers), in the form `conn`'s database runs best."""
    if is_sqlite(conn):
        return column.in_(list(ids))
    array = sa.bindparam(f"{column.key}_ids", list(ids), type_=postgresql.ARRAY(sa.BigInteger))
    return column == sa.any_(array)
