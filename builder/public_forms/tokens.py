"""Signed, expiring, single-purpose links to a public form, recorded so they can be spent and revoked.

A token is `<payload>.<mac>`, both base64url: the payload names the form, the bound
record, the expiry and a random nonce; the MAC is HMAC-SHA256 under a key derived from
the project's secret for this purpose only (a session cookie's signature is no token).
The database keeps only the token's SHA-256 (`crm_public_token`), so a copy of the
database makes no working link; the signature means a guessed or edited token is
refused before any query. Times are naive UTC.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from builder.storage.database import inserted_id, write_transaction
from builder.system_tables import public_tokens

from .catalog import PublicForm

PURPOSE = b"crm.public-form.v1"
MAX_TOKEN_LENGTH = 400


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


class BadToken(Exception):
    """A link that cannot be used; `reason`: tampered, unknown, expired, used or revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class TokenRow:
    id: int
    form: str
    entity: str
    record_id: int
    created_at: dt.datetime
    created_by: str
    expires_at: dt.datetime
    reusable: bool
    uses: int
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _utc(timestamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).replace(tzinfo=None)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenSigner:
    """Signs and checks tokens with a key derived from the project's secret."""

    def __init__(self, secret: str) -> None:
        self.key = hmac.new(secret.encode("utf-8"), PURPOSE, hashlib.sha256).digest()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode("ascii"), hashlib.sha256).digest())

    def sign(self, form: str, record_id: int, expires_at: dt.datetime) -> str:
        body = {"f": form, "r": record_id, "x": int(expires_at.replace(tzinfo=dt.UTC).timestamp())}
        body["n"] = _b64(secrets.token_bytes(12))
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac(payload)}"

    def unsign(self, token: str) -> dict[str, Any]:
        """The payload of a token we signed; BadToken("tampered") for anything else."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
            raise BadToken("tampered")
        payload, mac = token.split(".")
        if not hmac.compare_digest(mac.encode("ascii", "replace"), self._mac(payload).encode("ascii")):
            raise BadToken("tampered")
        try:
            body = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            raise BadToken("tampered") from None
        if not isinstance(body, dict) or not isinstance(body.get("f"), str) or not isinstance(body.get("r"), int):
            raise BadToken("tampered")
        return body


def _row(row: Any) -> TokenRow:
    return TokenRow(
        row.id,
        row.form,
        row.entity,
        row.record_id,
        row.created_at,
        row.created_by,
        row.expires_at,
        bool(row.reusable),
        row.uses,
        row.used_at,
        row.revoked_at,
    )


class TokenStore:
    """Issue, check, spend and revoke links; every process of a project agrees through the table."""

    def __init__(self, engine: sa.Engine, secret: str, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.engine = engine
        self.signer = TokenSigner(secret)
        self.clock = clock

    def issue(
        self, form: PublicForm, record_id: int, created_by: str, now: dt.datetime | None = None
    ) -> tuple[str, int]:
        """A new link to `form` bound to record `record_id`: (token, row id). Only its hash is stored."""
        if not form.by_patient or form.bound_entity is None:
            raise ValueError(f"form `{form.name}` is not a patient link")
        now = now or self.clock()
        expires = now + form.expires
        token = self.signer.sign(form.name, record_id, expires)
        with write_transaction(self.engine) as conn:
            row_id = inserted_id(
                conn.execute(
                    public_tokens.insert().values(
                        token_hash=token_hash(token),
                        form=form.name,
                        entity=form.bound_entity,
                        record_id=record_id,
                        created_at=now,
                        created_by=created_by[:64],
                        expires_at=expires,
                        reusable=form.public.reuse,
                        uses=0,
                    )
                )
            )
        return token, row_id

    def check(self, token: str) -> TokenRow:
        """The link's row if it may be used now; BadToken saying why not."""
        body = self.signer.unsign(token)
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(public_tokens).where(public_tokens.c.token_hash == token_hash(token))
            ).first()
        if found is None:  # never issued, or pruned after it died: a past expiry says which, kindly
            expiry = body.get("x")
            if (
                isinstance(expiry, int)
                and dt.datetime.fromtimestamp(expiry, dt.UTC).replace(tzinfo=None) <= self.clock()
            ):
                raise BadToken("expired")
            raise BadToken("unknown")
        row = _row(found)
        if row.form != body["f"] or row.record_id != body["r"]:
            raise BadToken("tampered")
        if row.revoked_at is not None:
            raise BadToken("revoked")
        if row.expires_at <= self.clock():
            raise BadToken("expired")
        if row.used_at is not None and not row.reusable:
            raise BadToken("used")
        return row

    def claim(self, row: TokenRow) -> bool:
        """Spend one use, atomically: a single-use link only once even when two submissions race."""
        now = self.clock()
        table = public_tokens
        live = (table.c.id == row.id) & table.c.revoked_at.is_(None) & (table.c.expires_at > now)
        if not row.reusable:
            live = live & table.c.used_at.is_(None)
        with write_transaction(self.engine) as conn:
            done = conn.execute(table.update().where(live).values(used_at=now, uses=table.c.uses + 1))
        return done.rowcount == 1

    def release(self, row: TokenRow) -> None:
        """Give back a use whose submission was refused (the patient corrects it and sends again)."""
        table = public_tokens
        with write_transaction(self.engine) as conn:
            values: dict[str, Any] = {"uses": table.c.uses - 1}
            if not row.reusable:
                values["used_at"] = None
            conn.execute(table.update().where(table.c.id == row.id, table.c.uses > 0).values(**values))

    def revoke(self, token_id: int, entity: str, record_id: int) -> bool:
        """Withdraw a link of this record (staff); False if there is no such live link."""
        table = public_tokens
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                table.update()
                .where(
                    table.c.id == token_id,
                    table.c.entity == entity,
                    table.c.record_id == record_id,
                    table.c.revoked_at.is_(None),
                )
                .values(revoked_at=self.clock())
            )
        return done.rowcount == 1

    def of_record(self, entity: str, record_id: int) -> list[TokenRow]:
        """The record's links, newest first (its page lists them with their state)."""
        table = public_tokens
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(table)
                .where(table.c.entity == entity, table.c.record_id == record_id)
                .order_by(table.c.id.desc())
                .limit(20)
            ).all()
        return [_row(r) for r in rows]

    def state(self, row: TokenRow) -> str:
        """live, used, expired or revoked: what a record's page says of a link."""
        if row.revoked_at is not None:
            return "revoked"
        if row.expires_at <= self.clock():
            return "expired"
        if row.used_at is not None and not row.reusable:
            return "used"
        return "live"
