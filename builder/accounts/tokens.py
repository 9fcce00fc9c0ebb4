"""API tokens: long random secrets for programs, shown once and stored only hashed.

A token has a name (to revoke it by) and one blueprint role. Only its SHA-256 hash
is kept: a stolen database backup does not hand out working tokens. A fast hash is
enough because the secret has 256 bits of randomness, unlike a password.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass

import sqlalchemy as sa

from builder.records import Actor
from builder.storage.database import write_transaction
from builder.system_tables import tokens as tokens_table
from builder.system_tables import users as users_table

from .errors import AccountError
from .naming import check_name, check_role

TOKEN_PREFIX = "crm_"  # lets secret scanners recognise a leaked token
MAX_TOKEN_LENGTH = 200
MAX_TOKEN_NAME_LENGTH = 48  # "token:" + name must fit the audit trail's 64-character actor column


@dataclass(frozen=True)
class Token:
    """A token's public facts (never the secret)."""

    name: str
    role: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def create_token(
    engine: sa.Engine, name: str, role: str | None, *, roles: Collection[str], user: str | None = None
) -> str:
    """Make a token and return its secret: the only time anyone sees it.

    With `user`, the token acts as that account (its role, and its id where row
    filters such as `doctor.user == user.id` need one) and stops when it is disabled.
    A revoked token's name may be reused; an active one must be revoked first.
    """
    check_name(name, "token", MAX_TOKEN_NAME_LENGTH)
    user_id = None
    if user is not None:
        with engine.connect() as conn:
            account = conn.execute(sa.select(users_table).where(users_table.c.name == user)).first()
        if account is None or account.disabled:
            raise AccountError(f"there is no active user `{user}`")
        if role is not None and role != account.role:
            raise AccountError(f"user `{user}` has the role `{account.role}`, not `{role}`")
        role, user_id = account.role, account.id
    if role is None:
        raise AccountError("a token needs a role (--role) or a user to act as (--user)")
    check_role(role, roles)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    values = {
        "name": name,
        "role": role,
        "token_hash": token_hash(secret),
        "user_id": user_id,
        "created_at": _now(),
        "revoked_at": None,
    }
    with write_transaction(engine) as conn:
        row = conn.execute(sa.select(tokens_table).where(tokens_table.c.name == name)).first()
        if row is not None and row.revoked_at is None:
            raise AccountError(f"the token `{name}` already exists; revoke it first (crm token revoke {name})")
        if row is not None:
            conn.execute(tokens_table.update().where(tokens_table.c.id == row.id).values(**values))
        else:
            try:
                conn.execute(tokens_table.insert().values(**values))
            except sa.exc.IntegrityError:
                raise AccountError(f"the token `{name}` already exists") from None
    return secret


def revoke_token(engine: sa.Engine, name: str) -> Token:
    """Stop a token working from its next request on."""
    with write_transaction(engine) as conn:
        row = conn.execute(sa.select(tokens_table).where(tokens_table.c.name == name)).first()
        if row is None:
            raise AccountError(f"there is no token `{name}`")
        if row.revoked_at is not None:
            raise AccountError(f"the token `{name}` is already revoked")
        now = _now()
        conn.execute(tokens_table.update().where(tokens_table.c.id == row.id).values(revoked_at=now))
    return Token(row.name, row.role, row.created_at, now)


def list_tokens(engine: sa.Engine) -> list[Token]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tokens_table).order_by(tokens_table.c.name)).all()
    return [Token(r.name, r.role, r.created_at, r.revoked_at) for r in rows]


# Built once: every API request runs it, and building it again cost more than running it.
_ACTIVE_TOKEN = (
    sa.select(tokens_table.c.name, tokens_table.c.role, tokens_table.c.user_id, users_table.c.disabled)
    .select_from(tokens_table.outerjoin(users_table, users_table.c.id == tokens_table.c.user_id))
    .where(tokens_table.c.token_hash == sa.bindparam("token_hash"), tokens_table.c.revoked_at.is_(None))
)


def actor_for_token(engine: sa.Engine, token: str, *, address: str | None = None, locale: str = "en") -> Actor | None:
    """The actor an active token acts as (named `token:NAME` in the audit trail), else None."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    with engine.connect() as conn:
        row = conn.execute(_ACTIVE_TOKEN, {"token_hash": token_hash(token)}).first()
    if row is None or (row.user_id is not None and row.disabled is not False):
        return None  # unknown, revoked, or acting as an account that is gone or disabled
    return Actor(
        id=row.user_id,
        name=f"token:{row.name}",
        role=row.role,
        locale=locale,
        address=address,
        extra={"token": row.name},
    )
