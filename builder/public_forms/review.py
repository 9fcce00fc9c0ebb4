"""The staff review queue of clinic-wide submissions: held encrypted, checked for duplicates, accepted or rejected.

A held submission is the patient's input as JSON, encrypted with the project's keyring
when it has one (the same keys as encrypted fields; its own associated data), so the
queue is no clear copy of patient details. Accepting creates the record through the
record service *as the reviewer* (their rights, rules and audit); accepting or
rejecting wipes the held values. Duplicates are existing records with the same value of
a unique field (phone, resident ID), or the same title and a date field (name and
birth date), found with the record service's exact-match filters.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from builder.records import SYSTEM, Actor, NotFound, RecordError, RecordService
from builder.records.auditing import audit_row
from builder.storage.database import inserted_id, write_transaction
from builder.system_tables import audit as audit_table
from builder.system_tables import public_submissions

from .catalog import PublicForm

CONTEXT = "crm_public_submission.payload"


@dataclass(frozen=True)
class Duplicate:
    """An existing record matching a submission on `fields`."""

    record_id: int
    fields: tuple[str, ...]


@dataclass
class Pending:
    id: int
    form: str
    entity: str
    created_at: dt.datetime
    values: dict[str, Any]
    duplicates: list[Duplicate] = field(default_factory=list)


class ReviewQueue:
    def __init__(self, service: RecordService, catalog: Mapping[str, PublicForm], clock: Any) -> None:
        self.service = service
        self.engine = service.engine
        self.catalog = catalog
        self.clock = clock

    # -- holding ---------------------------------------------------------------------
    def _seal(self, values: Mapping[str, Any]) -> str:
        text = json.dumps(dict(values), ensure_ascii=False, default=str)
        cipher = self.service.cipher
        return "enc:" + cipher.encrypt(text, CONTEXT) if cipher is not None else "json:" + text

    def _open(self, payload: str) -> dict[str, Any]:
        kind, _, text = payload.partition(":")
        if kind == "enc" and self.service.cipher is not None:
            text = self.service.cipher.decrypt(text, CONTEXT)
        elif kind != "json":
            return {}
        value = json.loads(text) if text else {}
        return value if isinstance(value, dict) else {}

    def add(self, form: PublicForm, values: Mapping[str, Any], address_hash: str | None) -> int:
        with write_transaction(self.engine) as conn:
            return inserted_id(
                conn.execute(
                    public_submissions.insert().values(
                        form=form.name,
                        entity=form.entity,
                        payload=self._seal(values),
                        status="pending",
                        created_at=self.clock(),
                        address_hash=address_hash,
                    )
                )
            )

    # -- reviewing -------------------------------------------------------------------
    def forms_for(self, role: str) -> list[str]:
        return sorted(name for name, form in self.catalog.items() if form.reviewed and role in form.review_roles)

    def pending(self, actor: Actor, limit: int = 50) -> list[Pending]:
        """The pending submissions of the forms the actor reviews, oldest first; viewing them is audited."""
        forms = self.forms_for(actor.role)
        if not forms:
            return []
        table = public_submissions
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(table)
                .where(table.c.status == "pending", table.c.form.in_(forms))
                .order_by(table.c.id)
                .limit(limit)
            ).all()
        items = [Pending(r.id, r.form, r.entity, r.created_at, self._open(r.payload)) for r in rows]
        for item in items:
            item.duplicates = self.duplicates(item.entity, item.values)
        if items:
            self._audit(actor, "view", None, None, {"submissions": [i.id for i in items]})
        return items

    def get(self, actor: Actor, submission_id: int) -> Pending:
        table = public_submissions
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table).where(table.c.id == submission_id)).first()
        if row is None or row.status != "pending" or row.form not in self.forms_for(actor.role):
            raise NotFound(f"submission {submission_id} not found")
        return Pending(row.id, row.form, row.entity, row.created_at, self._open(row.payload))

    def duplicates(self, entity_name: str, values: Mapping[str, Any]) -> list[Duplicate]:
        """Existing records matching on a unique field, or on the title field and a date field."""
        entity = self.service.entity(entity_name)
        spec = entity.spec
        sets: list[tuple[str, ...]] = [(n,) for n, f in entity.fields.items() if f.spec.unique and f.kind.stored]
        if spec.title_field:
            sets += [(spec.title_field, n) for n, f in entity.fields.items() if f.spec.type == "date"]
        found: dict[int, Duplicate] = {}
        for names in sets:
            if any(values.get(n) in (None, "", []) for n in names):
                continue
            try:
                page = self.service.list(
                    SYSTEM, entity_name, filters={n: values[n] for n in names}, limit=5, fields=["id"]
                )
            except RecordError:
                continue  # a value that does not parse matches nothing
            for record in page.items:
                found.setdefault(record["id"], Duplicate(record["id"], names))
        return list(found.values())

    def accept(self, actor: Actor, submission_id: int, values: Mapping[str, Any] | None = None) -> int:
        """Create the record as the reviewer (ValidationFailed leaves it pending); the held values are wiped."""
        item = self.get(actor, submission_id)
        record = self.service.create(actor, item.entity, dict(values if values is not None else item.values))
        self._decide(actor, item, "accepted", record["id"])
        return int(record["id"])

    def reject(self, actor: Actor, submission_id: int) -> None:
        item = self.get(actor, submission_id)
        self._decide(actor, item, "rejected", None)

    def _decide(self, actor: Actor, item: Pending, status: str, record_id: int | None) -> None:
        table = public_submissions
        with write_transaction(self.engine) as conn:
            conn.execute(
                table.update()
                .where(table.c.id == item.id, table.c.status == "pending")
                .values(status=status, payload="", decided_at=self.clock(), decided_by=actor.name, record_id=record_id)
            )
        action = "public_accept" if status == "accepted" else "public_reject"
        self._audit(actor, action, item.entity, record_id, {"form": item.form, "submission": item.id})

    def _audit(
        self, actor: Actor, action: str, entity: str | None, record_id: int | None, detail: dict[str, Any]
    ) -> None:
        entry = audit_row(
            actor, action, entity or "crm_public_submission", record_id, self.service.clock(), None, json.dumps(detail)
        )
        with write_transaction(self.engine) as conn:
            conn.execute(audit_table.insert().values(**entry))


def matched_fields(duplicates: Collection[Duplicate]) -> set[str]:
    return {name for d in duplicates for name in d.fields}
