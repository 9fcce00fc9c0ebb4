"""The staff review queue of clinic-wide submissions: held encrypted, checked for duplicates, accepted or rejected.

A held submission is the patient's input as JSON, encrypted with the project's keyring
when it has one (the same keys as encrypted fields; its own associated data), so the
queue is no clear copy of patient details. A reviewer may correct the held values
first (checked by the write lifecycle as the reviewer, rolled back; audited as
`public_correct` with the record audit's rules: old and new values of ordinary fields,
only the names of sensitive, PHI or encrypted ones); the values as sent are held
beside the correction and shown until the submission is decided. Accepting creates the
record through the record service *as the reviewer* (their rights, rules and audit)
from the corrected values; accepting or rejecting wipes the held values. Duplicates
are existing records with the same value of a unique field (phone, resident ID), or
the same title and a date field (name and birth date), found with the record service's
exact-match filters.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from builder.records import SYSTEM, Actor, FieldError, NotFound, RecordError, RecordService, ValidationFailed
from builder.records.auditing import audit_changes, audit_row
from builder.storage.database import inserted_id, write_transaction
from builder.system_tables import audit as audit_table
from builder.system_tables import public_submissions

from .catalog import PublicForm

CONTEXT = "crm_public_submission.payload"
ORIGINAL, CORRECTED, CORRECTED_BY = "$original", "$corrected", "$corrected_by"  # never field names


class _RolledBack(Exception):
    pass


def check_write(service: RecordService, actor: Actor, entity_name: str, values: Mapping[str, Any]) -> None:
    """The whole create lifecycle as `actor`, rolled back: ValidationFailed with every error but "already used".

    "Already used" is left out: it would tell a stranger that a phone number is a
    patient's; the reviewer sees it as a duplicate, and accepting checks it for real.
    """
    entity = service.entity(entity_name)
    grant = service.policy.require(actor, entity_name, "create")
    try:
        with write_transaction(service.engine) as conn:
            service.write_in(conn, actor, entity, grant, None, dict(values), None)
            raise _RolledBack()
    except _RolledBack:
        return
    except ValidationFailed as exc:
        errors: list[FieldError] = [e for e in exc.errors if e.code != "unique"]
        if errors:
            raise ValidationFailed(errors) from None


@dataclass(frozen=True)
class Duplicate:
    """An existing record matching a submission on `fields`."""

    record_id: int
    fields: tuple[str, ...]


@dataclass
class Pending:
    """A held submission: `values` are what accepting would create (the correction, if any), `original`
    what the patient sent."""

    id: int
    form: str
    entity: str
    created_at: dt.datetime
    values: dict[str, Any]
    duplicates: list[Duplicate] = field(default_factory=list)
    original: dict[str, Any] = field(default_factory=dict)
    corrected_by: str | None = None


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

    def _pending(self, row: Any) -> Pending:
        held = self._open(row.payload)
        if isinstance(held.get(ORIGINAL), dict) and isinstance(held.get(CORRECTED), dict):
            by = held.get(CORRECTED_BY)
            return Pending(
                row.id, row.form, row.entity, row.created_at, held[CORRECTED], [], held[ORIGINAL], str(by or "")
            )
        return Pending(row.id, row.form, row.entity, row.created_at, held, [], dict(held))

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
        items = [self._pending(r) for r in rows]
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
        return self._pending(row)

    def correct(self, actor: Actor, submission_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
        """Hold `values` as the submission's correction (ValidationFailed if the reviewer's create would refuse
        them); the changes as the record audit keeps them (`{}`: nothing changed, nothing written)."""
        item = self.get(actor, submission_id)
        check_write(self.service, actor, item.entity, values)
        entity = self.service.entity(item.entity)
        changes = audit_changes(entity, _typed(entity, item.values), _typed(entity, values), {})
        if not changes:
            return {}
        held = {ORIGINAL: item.original, CORRECTED: dict(values), CORRECTED_BY: actor.name}
        table = public_submissions
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                table.update()
                .where(table.c.id == item.id, table.c.status == "pending")
                .values(payload=self._seal(held))
            )
            if done.rowcount != 1:
                raise NotFound(f"submission {submission_id} not found")  # decided meanwhile by someone else
            entry = audit_row(
                actor,
                "public_correct",
                item.entity,
                None,
                self.service.clock(),
                changes,
                json.dumps({"form": item.form, "submission": item.id}),
            )
            conn.execute(audit_table.insert().values(**entry))
        return changes

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


def _typed(entity: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """Held values as their field types read them, so `138 0013 8000` and `13800138000` are no change."""
    typed: dict[str, Any] = {}
    for name, value in values.items():
        field = entity.fields.get(name)
        try:
            typed[name] = field.kind.coerce(value, field.spec) if field is not None else value
        except Exception:  # noqa: BLE001 - a value that does not parse is compared as written
            typed[name] = value
    return typed


def matched_fields(duplicates: Collection[Duplicate]) -> set[str]:
    return {name for d in duplicates for name in d.fields}
