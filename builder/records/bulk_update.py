"""Fields set to values on selected rows of a list (and "assign", the same for the assignee field).

Each selected record goes through the normal write (`write_in`: grants, coercion,
rules, validations, links, encryption, version check, its own `update` audit entry)
and what it sets off (`react`), in its own savepoint: a refused row is left exactly as
it was and does not stop the others. Which fields qualify is decided once for the
role (`bulk_fields`): ones it may write that a person sets by hand and that may hold
the same value on many records — not a workflow's state (moved by transitions),
not computed, not a child table, not unique. One `bulk_update` audit entry per
request names the fields, the ids changed and the refused ones with their codes
(never the value: the per-record entries carry the change as the audit trail
always does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from builder.storage.database import write_transaction
from builder.system_tables import audit as audit_table
from engines.forms import message, person_fields, resolve_tasks

from .actor import Actor
from .auditing import audit_row
from .automations import AutomationFailed, react
from .errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from .manual import MAX_BULK_IDS, BulkRun, Refusal
from .transitions import driven_fields

if TYPE_CHECKING:
    from .service import RecordService

MAX_BULK_FIELDS = 20  # fields set by one request: a form's worth, not a whole entity rewritten blind


def settable_fields(service: RecordService, entity_name: str) -> list[str]:
    """The entity's fields that may be set on many records at once (for any role that may write them)."""
    entity = service.entity(entity_name)
    driven = driven_fields(service.flows, entity_name)
    return [
        name
        for name, field in entity.fields.items()
        if field.kind.stored
        and not field.children
        and field.compute is None
        and not field.spec.unique
        and name not in driven
    ]


def bulk_fields(service: RecordService, actor: Actor, entity_name: str) -> list[str]:
    """The fields `actor`'s role may set on selected rows, in the blueprint's order."""
    writable = service.policy.grant(actor, entity_name).writable
    return [name for name in settable_fields(service, entity_name) if name in writable]


def assignee_field(service: RecordService, entity_name: str) -> str | None:
    """The field that says whose a record is: the one its `tasks:` names, else its only link to a person."""
    specs = {name: entity.spec for name, entity in service.entities.items()}
    tasks = resolve_tasks(specs, entity_name)
    if tasks is not None:
        return tasks.assignee
    people = person_fields(specs, entity_name)
    return people[0] if len(people) == 1 else None


def check_bulk_values(service: RecordService, actor: Actor, entity_name: str, values: Mapping[str, Any]) -> None:
    """Refuse the whole request, naming each offending field: none or too many (422), ones the role cannot see
    (422 `unknown_field`, exactly as for a field that does not exist), may not write (403), or that may not be
    set on many records at once (422 `not_bulk`)."""
    if not values or len(values) > MAX_BULK_FIELDS:
        reason = f"set 1 to {MAX_BULK_FIELDS} fields"
        raise ValidationFailed([FieldError("values", "invalid", reason)])
    grant = service.policy.grant(actor, entity_name)
    unknown = message("unknown_field", actor.locale)
    hidden = [FieldError(str(name), "unknown_field", unknown) for name in values if name not in grant.readable]
    if hidden:
        raise ValidationFailed(hidden)
    for name in values:
        if name not in grant.writable:
            raise PermissionDenied(f"role `{actor.role}` may not change `{name}`", field=name)
    settable = settable_fields(service, entity_name)
    reason = "this field is set by a workflow, computed, a table or unique: change it record by record"
    refused = [FieldError(name, "not_bulk", reason) for name in values if name not in settable]
    if refused:
        raise ValidationFailed(refused)


def update_many(
    service: RecordService,
    actor: Actor,
    entity_name: str,
    records: list[tuple[int, int]],
    values: Mapping[str, Any],
) -> BulkRun:
    """Set each field of `values` on each selected (id, version) in one write per record; what was refused and why."""
    entity = service.entity(entity_name)
    grant = service.policy.require(actor, entity_name, "write")
    check_bulk_values(service, actor, entity_name, values)
    if not records or len(records) > MAX_BULK_IDS:
        raise ValidationFailed([FieldError("records", "invalid", f"select 1 to {MAX_BULK_IDS} records")])
    fields = list(values)
    done = BulkRun(", ".join(fields))
    with write_transaction(service.engine) as conn:
        for record_id, version in dict.fromkeys(records):
            try:
                with conn.begin_nested():
                    run = service.new_run(conn)
                    written = service.write_in(conn, actor, entity, grant, record_id, dict(values), version)
                    react(service, run, written.change("updated"), events=actor.sets_off)
                done.ran.append(record_id)
            except NotFound:
                done.refused.append(Refusal(record_id, "not_found", f"{entity_name} {record_id} not found"))
            except Conflict as exc:
                done.refused.append(Refusal(record_id, "conflict", str(exc)))
            except AutomationFailed as exc:
                done.refused.append(Refusal(record_id, "failed", str(exc).split(": ", 1)[-1], tuple(exc.errors)))
            except ValidationFailed as exc:
                done.refused.append(Refusal(record_id, "invalid", str(exc), tuple(exc.errors)))
        detail = {"fields": fields, "ids": done.ran, "refused": [[r.record_id, r.code] for r in done.refused]}
        conn.execute(
            audit_table.insert().values(
                **audit_row(actor, "bulk_update", entity_name, None, service.clock(), None, json.dumps(detail))
            )
        )
    return done
