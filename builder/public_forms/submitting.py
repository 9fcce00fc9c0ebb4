"""One submission to a public form, through the record service as the public actor.

The public actor may create exactly the form's entity with exactly its fields (see
actor.py); anything else a crafted request sends is dropped here and would be refused
by the record service anyway. A patient link is spent before the record is written and
given back if the record is refused, so a single-use link works once even when two
submissions race. Clinic-wide forms under review are checked by a write that is rolled
back, then held in the review queue. Every submission is audited as `public`, with the
form, the link's id and the address hashed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from builder.errors import ProjectError
from builder.records import Actor, RecordService, ValidationFailed
from builder.records.auditing import audit_row
from builder.storage.database import write_transaction
from builder.system_tables import audit as audit_table

from .actor import public_actor
from .catalog import PublicForm, public_forms
from .review import ReviewQueue, check_write
from .throttle import PublicThrottle
from .tokens import BadToken, TokenRow, TokenStore, utc_now

ADDRESS_PURPOSE = b"crm.public-address.v1"


@dataclass(frozen=True)
class Outcome:
    """created (a record), pending (held for review) or dropped (the honeypot was filled)."""

    kind: str
    record_id: int | None = None
    submission_id: int | None = None


@dataclass(frozen=True)
class Limits:
    per_address: int = 20
    per_token: int = 10
    window: dt.timedelta = dt.timedelta(hours=1)
    keep: dt.timedelta = dt.timedelta(days=30)  # how long a dead link is kept before it is pruned

    @classmethod
    def from_project(cls, project: Any) -> Limits:
        """`[public]` in crm.toml: per_address, per_token, window_minutes, keep_days (whole numbers of at least 1)."""

        def number(key: str, default: int) -> int:
            value = project.setting("public", key, default)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ProjectError(f"[public] {key} must be a whole number of at least 1, not {value!r}")
            return value

        minutes = number("window_minutes", 60)
        return cls(
            number("per_address", cls.per_address),
            number("per_token", cls.per_token),
            dt.timedelta(minutes=minutes),
            dt.timedelta(days=number("keep_days", 30)),
        )


class PublicDesk:
    """Everything a public form's page needs: its forms, links, limits, submissions and review queue."""

    def __init__(
        self,
        service: RecordService,
        blueprint: Any,
        secret: str,
        limits: Limits | None = None,
        clock: Any = utc_now,
    ) -> None:
        limits = limits or Limits()
        self.service = service
        self.engine = service.engine
        self.catalog: dict[str, PublicForm] = public_forms(blueprint)
        self.tokens = TokenStore(service.engine, secret, clock)
        self.throttle = PublicThrottle(service.engine, limits.per_address, limits.per_token, limits.window, clock)
        self.review = ReviewQueue(service, self.catalog, clock)
        self._address_key = hmac.new(secret.encode("utf-8"), ADDRESS_PURPOSE, hashlib.sha256).digest()

    def address_hash(self, address: str | None) -> str:
        """The address as the audit trail and the limits keep it: a keyed hash, never the address."""
        return hmac.new(self._address_key, (address or "unknown").encode("utf-8"), hashlib.sha256).hexdigest()[:32]

    def form(self, name: str) -> PublicForm | None:
        return self.catalog.get(name)

    def open_token(self, token: str) -> tuple[PublicForm, TokenRow]:
        """The form and link of a patient token that may be used now (BadToken otherwise)."""
        row = self.tokens.check(token)
        form = self.catalog.get(row.form)
        if form is None or not form.by_patient:
            raise BadToken("unknown")  # the form was unpublished since the link was made
        return form, row

    def greeting(self, form: PublicForm, row: TokenRow) -> str | None:
        """The declared greeting field of the bound record (checked to be neither protected nor encrypted)."""
        name = form.public.greeting
        if name is None or form.bound_entity is None:
            return None
        table = self.service.schema.table(form.bound_entity)
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(table.c[name]).where(table.c.id == row.record_id)).scalar()
        return str(value) if value not in (None, "") else None

    def admit(self, address: str | None, row: TokenRow | None) -> bool:
        return self.throttle.admit(self.address_hash(address), str(row.id) if row is not None else None)

    def actor(self, form: PublicForm, row: TokenRow | None, locale: str, address: str | None) -> Actor:
        return public_actor(form, row.record_id if row is not None else None, locale, self.address_hash(address))

    def submit(
        self, form: PublicForm, row: TokenRow | None, raw: Mapping[str, Any], locale: str, address: str | None
    ) -> Outcome:
        """Create the record (or hold it for review); ValidationFailed keeps the link usable."""
        actor = self.actor(form, row, locale, address)
        values = {name: raw[name] for name in form.fields if name in raw}  # nothing the form does not map
        if form.bind is not None:
            if row is None:
                raise BadToken("unknown")
            values[form.bind] = row.record_id
        if form.reviewed:
            check_write(self.service, actor, form.entity, values)  # the patient sees every error now
            submission = self.review.add(form, values, actor.address)
            self._audit(actor, form, None, row, {"submission": submission})
            return Outcome("pending", submission_id=submission)
        if row is not None and not self.tokens.claim(row):
            raise BadToken("used")
        try:
            record = self.service.create(actor, form.entity, values)
        except ValidationFailed as exc:
            if row is not None:
                self.tokens.release(row)
            if form.bind is not None and any(e.field == form.bind for e in exc.errors):
                raise BadToken("revoked") from None  # the bound record is gone: the link no longer leads anywhere
            raise
        self._audit(actor, form, record["id"], row, {})
        return Outcome("created", record_id=record["id"])

    def drop(self, form: PublicForm, row: TokenRow | None, locale: str, address: str | None) -> Outcome:
        """A bot filled the hidden field: nothing is kept, the bot sees the thanks page, the audit says so."""
        self._audit(self.actor(form, row, locale, address), form, None, row, {"dropped": "honeypot"})
        return Outcome("dropped")

    def _audit(
        self, actor: Actor, form: PublicForm, record_id: int | None, row: TokenRow | None, extra: dict[str, Any]
    ) -> None:
        detail = json.dumps({"form": form.name, "token": row.id if row is not None else None, **extra})
        entry = audit_row(actor, "public_submit", form.entity, record_id, self.service.clock(), None, detail)
        with write_transaction(self.engine) as conn:
            conn.execute(audit_table.insert().values(**entry))
