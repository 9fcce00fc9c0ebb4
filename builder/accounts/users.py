"""People who sign in: add, list, disable, enable, change password, authenticate.

A disabled account keeps its row (the audit trail names it) but can no longer sign
in, and its open sessions end on their next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher

from builder.storage.database import reading, write_transaction
from builder.system_tables import users as users_table

from .errors import AccountError
from .naming import NAME_PATTERN, check_locale, check_name, check_role
from .passwords import DEFAULT_HASHER, MIN_PASSWORD_LENGTH, hash_password, verify_password

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "User",
    "add_user",
    "authenticate",
    "disable_user",
    "enable_user",
    "get_user",
    "list_users",
    "set_password",
]


@dataclass(frozen=True)
class User:
    """An account as the rest of the app may see it (never with its password hash)."""

    id: int
    name: str
    role: str
    locale: str | None
    disabled: bool
    created_at: dt.datetime
    credential_stamp: str  # changes whenever the password does: sessions made before end

    @classmethod
    def from_row(cls, row: sa.Row) -> User:
        stamp = hashlib.sha256((row.password_hash or "").encode()).hexdigest()[:16]
        return cls(row.id, row.name, row.role, row.locale, bool(row.disabled), row.created_at, stamp)


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _row_by_name(conn: sa.Connection, name: str) -> sa.Row | None:
    return conn.execute(sa.select(users_table).where(users_table.c.name == name)).first()


def _require(conn: sa.Connection, name: str) -> sa.Row:
    row = _row_by_name(conn, name) if isinstance(name, str) else None
    if row is None:
        raise AccountError(f"there is no user `{name}`")
    return row


def add_user(
    engine: sa.Engine,
    name: str,
    role: str,
    password: str,
    locale: str | None = None,
    *,
    roles: Collection[str],
    hasher: PasswordHasher = DEFAULT_HASHER,
) -> User:
    """Create an account; `roles` are the blueprint's (`runtime.blueprint.roles`)."""
    check_name(name)
    check_role(role, roles)
    check_locale(locale)
    password_hash = hash_password(password, hasher)
    with write_transaction(engine) as conn:
        if _row_by_name(conn, name) is not None:
            raise AccountError(f"the user `{name}` already exists")
        try:
            conn.execute(
                users_table.insert().values(
                    name=name, role=role, password_hash=password_hash, locale=locale, disabled=False, created_at=_now()
                )
            )
        except sa.exc.IntegrityError:  # a concurrent add of the same name
            raise AccountError(f"the user `{name}` already exists") from None
        return User.from_row(_require(conn, name))


def list_users(engine: sa.Engine) -> list[User]:
    with engine.connect() as conn:
        return [User.from_row(r) for r in conn.execute(sa.select(users_table).order_by(users_table.c.name))]


def get_user(engine: sa.Engine, user_id: int) -> User | None:
    """The account with this id, or None (the middleware asks on every request)."""
    with reading(engine) as conn:
        row = conn.execute(sa.select(users_table).where(users_table.c.id == user_id)).first()
    return User.from_row(row) if row is not None else None


def _set(engine: sa.Engine, name: str, **values) -> User:
    with write_transaction(engine) as conn:
        row = _require(conn, name)
        conn.execute(users_table.update().where(users_table.c.id == row.id).values(**values))
        return User.from_row(_require(conn, name))


def disable_user(engine: sa.Engine, name: str) -> User:
    return _set(engine, name, disabled=True)


def enable_user(engine: sa.Engine, name: str) -> User:
    return _set(engine, name, disabled=False)


def set_password(engine: sa.Engine, name: str, password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> User:
    """Replace the password; every session signed in with the old one ends."""
    return _set(engine, name, password_hash=hash_password(password, hasher))


def authenticate(engine: sa.Engine, name: str, password: str, hasher: PasswordHasher = DEFAULT_HASHER) -> User | None:
    """The enabled account with this name and password, else None (same work either way)."""
    if not isinstance(name, str) or not isinstance(password, str):
        return None
    row = None
    if NAME_PATTERN.fullmatch(name):  # anything else cannot be an account (and may upset the database)
        with engine.connect() as conn:
            row = _row_by_name(conn, name)
    verdict = verify_password(row.password_hash if row is not None else None, password, hasher)
    if row is None or not verdict.ok or row.disabled:
        return None
    if verdict.new_hash is not None:
        with write_transaction(engine) as conn:
            conn.execute(
                users_table.update()
                .where(users_table.c.id == row.id)
                .where(users_table.c.password_hash == row.password_hash)
                .values(password_hash=verdict.new_hash)
            )
        return get_user(engine, row.id)
    return User.from_row(row)
