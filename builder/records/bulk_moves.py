"""A simple workflow transition made on selected rows of a list: each record judged alone.

Only moves that ask nothing of the person (no `requires` fields, no comment) may be
made in bulk; the others are made record by record, where their form asks. The role
must be one the transition names (else 403 for the whole request). Each selected
record then moves in its own savepoint through `make_transition`, with the version
the person read: one hidden or gone (`not_found`), changed since (`conflict`), not in
a state the move leaves (`wrong_state`), failing its guard (`guard`) or what it sets
off (`failed`) is reported and left as it was; the others move, each with its history
row and audit entry, as if moved one by one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.storage.database import write_transaction

from .actor import Actor
from .errors import Conflict, FieldError, NotFound, PermissionDenied, ValidationFailed
from .manual import MAX_BULK_IDS, BulkRun, Refusal
from .transitions import driven_fields, make_transition

if TYPE_CHECKING:
    from engines.workflows import StateMachine

    from .service import RecordService

CODES = {"transition.wrong_state": "wrong_state", "transition.guard": "guard", "transition.guard_error": "guard"}


def bulk_machine(service: RecordService, entity: str, name: str) -> StateMachine:
    """The state machine with transition `name` on `entity` (NotFound otherwise)."""
    for machine in driven_fields(service.flows, entity).values():
        if name in machine.spec.transitions:
            return machine
    raise NotFound(f"{entity} has no workflow transition `{name}`")


def simple_moves(service: RecordService, actor: Actor, entity: str) -> list[tuple[StateMachine, str]]:
    """The transitions the actor's role may make on selected rows: those asking for no fields and no comment."""
    if not service.policy.grant(actor, entity).readable:
        return []
    return [
        (machine, name)
        for machine in driven_fields(service.flows, entity).values()
        for name, spec in machine.spec.transitions.items()
        if not spec.requires and not spec.comment and actor.role in machine.roles.get(name, frozenset())
    ]


def transition_many(
    service: RecordService, actor: Actor, entity: str, records: list[tuple[int, int]], name: str
) -> BulkRun:
    """Make transition `name` on each (id, version) selected; what moved and what was refused, and why."""
    machine = bulk_machine(service, entity, name)
    if not service.policy.grant(actor, entity).readable:
        raise NotFound(f"{entity} has no workflow transition `{name}`")
    if not actor.system and actor.role not in machine.roles.get(name, frozenset()):
        raise PermissionDenied("your role may not make this transition")
    spec = machine.spec.transitions[name]
    if spec.requires or spec.comment:
        raise ValidationFailed(
            [FieldError("__all__", "not_bulk", "this move asks for fields or a comment: make it record by record")]
        )
    if not records or len(records) > MAX_BULK_IDS:
        raise ValidationFailed([FieldError("records", "invalid", f"select 1 to {MAX_BULK_IDS} records")])
    done = BulkRun(name)
    with write_transaction(service.engine) as conn:
        for record_id, version in dict.fromkeys(records):
            try:
                with conn.begin_nested():
                    make_transition(service, service.new_run(conn), actor, entity, record_id, name, version)
                done.ran.append(record_id)
            except NotFound:
                done.refused.append(Refusal(record_id, "not_found", f"{entity} {record_id} not found"))
            except Conflict as exc:
                done.refused.append(Refusal(record_id, "conflict", str(exc)))
            except ValidationFailed as exc:
                code = CODES.get(exc.errors[0].code, "failed") if exc.errors else "failed"
                done.refused.append(Refusal(record_id, code, str(exc).split(": ", 1)[-1]))
    return done
