"""'My tasks': the records waiting for the actor, read through the record service like any list.

What makes a record a task is the blueprint's (`tasks:` on an entity, see
engines/workflows/tasks.py): a record in a task state that is assigned to the
actor (its assignee field is the actor's account, or links to the actor's staff
record), or that is unassigned and waits for a move the actor's role may make. The
query is the role's own (its row filter, its readable fields: a role that may not
read the state or assignee field gets no tasks of that entity, a due field it may not
read is neither shown nor sorted on), the rows are presented and
masked as in any list, and each entity's read is audited as one list. The actor's
own staff record is found in SQL, like a row filter's `doctor.user == user.id`:
it tells the actor nothing about anyone else.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from builder.storage.database import reading
from engines.workflows import Decision
from engines.workflows.tasks import TaskSource

from .actor import Actor
from .automations import context
from .codec import decode
from .compiled import CompiledEntity
from .policy import Grant
from .querying import ListQuery
from .related import SqlRelated

if TYPE_CHECKING:
    from .service import RecordService

MAX_TASKS = 200  # shown at most, over all entities; the count says how many there are in all


@dataclass(frozen=True)
class Task:
    """One record waiting for the actor: as the actor may see it, with the moves its role may make now."""

    entity: str
    record: dict[str, Any]
    state: str
    due: dt.date | dt.datetime | None
    overdue: bool
    assigned: bool  # assigned to the actor (False: waiting for the actor's role)
    moves: list[Decision]


@dataclass
class TaskList:
    """The actor's tasks, overdue first then by due moment, and how many there are in all."""

    items: list[Task] = field(default_factory=list)
    total: int = 0


def task_sources(service: RecordService, actor: Actor) -> list[TaskSource]:
    """The entities whose records may be the actor's tasks: declared in the blueprint and readable by the role."""
    flows = service.flows
    if flows is None or actor.system:
        return []
    return [s for s in flows.tasks.values() if _reads(service.policy.grant(actor, s.entity), s)]


def _reads(grant: Grant, source: TaskSource) -> bool:
    """The role reads the state (and assignee) field: filtering on them tells it nothing it could not see."""
    needed = {source.machine.state_field} | ({source.assignee} if source.assignee else set())
    return needed <= grant.readable


def _mine(service: RecordService, source: TaskSource, actor: Actor, table: sa.Table) -> sa.ColumnElement[bool]:
    """Rows assigned to the actor: its account in a `user` field, or its staff record in a link."""
    if source.assignee is None or actor.id is None:
        return sa.false()
    column = table.c[source.assignee]
    spec = service.entity(source.entity).fields[source.assignee].spec
    if spec.type == "user":
        return column == actor.id
    target = service.entity(spec.to or "")
    people = service.schema.table(target.name)
    accounts = [people.c[n] == actor.id for n, f in target.fields.items() if f.spec.type == "user"]
    return column.in_(sa.select(people.c.id).where(sa.or_(*accounts)))


def _condition(service: RecordService, source: TaskSource, actor: Actor) -> sa.ColumnElement[bool] | None:
    """The rows that are the actor's tasks (before the role's row filter); None when there can be none."""
    table = service.schema.table(source.entity)
    state = table.c[source.machine.state_field]
    waiting = source.role_states(actor.role)
    parts = []
    if source.assignee is not None and actor.id is not None:
        parts.append(sa.and_(state.in_(source.states), _mine(service, source, actor, table)))
    if waiting:
        unassigned = table.c[source.assignee].is_(None) if source.assignee is not None else sa.true()
        parts.append(sa.and_(state.in_(waiting), unassigned))
    return sa.or_(*parts) if parts else None


def _due_column(source: TaskSource, entity: CompiledEntity, grant: Grant) -> str | None:
    """The due field, when the role may read it in the clear (else it neither shows nor orders the list)."""
    due = source.due
    if due is None or due not in grant.readable:
        return None
    spec = entity.fields[due].spec
    return None if spec.sensitive or spec.encrypted else due


def count_tasks(service: RecordService, actor: Actor) -> int:
    """How many tasks wait for the actor (the header badge): a count, no record leaves the database."""
    total = 0
    with reading(service.engine) as conn:
        for source in task_sources(service, actor):
            condition = _condition(service, source, actor)
            if condition is None:
                continue
            grant = service.policy.grant(actor, source.entity)
            query = service.select_visible(actor, source.entity, grant).where(condition)
            total += conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
    return total


def list_tasks(service: RecordService, actor: Actor, limit: int = MAX_TASKS) -> TaskList:
    """The actor's tasks, overdue first, then by due moment (undated last); each entity's read audited."""
    now = service.moment()
    sources = task_sources(service, actor)
    found = TaskList()
    for source in sources:
        condition = _condition(service, source, actor)
        if condition is None:
            continue
        entity = service.entity(source.entity)
        grant = service.policy.grant(actor, source.entity)
        table = service.schema.table(source.entity)
        due = _due_column(source, entity, grant)
        query = service.select_visible(actor, source.entity, grant).where(condition)
        ordering = [sa.case((table.c[due].is_(None), 1), else_=0), table.c[due].asc()] if due else []
        with service.engine.connect() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
            rows = conn.execute(query.order_by(*ordering, table.c.id.asc()).limit(limit)).all()
            children = service.child_rows(conn, entity, [r.id for r in rows]) if rows and entity.child_fields else {}
            tasks = [_task(service, conn, actor, source, entity, grant, row, children, due, now) for row in rows]
        found.total += count
        found.items += tasks
        records = [t.record for t in tasks]
        service.audit_read(actor, "list", entity, grant, records, ListQuery(sort=due, limit=limit), None)
    order = [s.entity for s in sources]
    found.items.sort(key=lambda t: _key(t, order))
    found.items = found.items[:limit]
    return found


def _key(task: Task, order: list[str]) -> tuple[Any, ...]:
    """Overdue first, then the earliest due (a date counts from its midnight), undated last."""
    due = task.due
    if isinstance(due, dt.datetime):
        moment = due
    elif isinstance(due, dt.date):
        moment = dt.datetime.combine(due, dt.time())
    else:
        moment = dt.datetime.max
    return (not task.overdue, moment, order.index(task.entity), task.record["id"])


def _task(
    service: RecordService,
    conn: sa.Connection,
    actor: Actor,
    source: TaskSource,
    entity: CompiledEntity,
    grant: Grant,
    row: Any,
    children: dict,
    due: str | None,
    now: dt.datetime,
) -> Task:
    """One task: the record as presented to the actor, and its buttons judged on the stored record."""
    record = service.present_row(entity, row, grant, children)
    stored = decode(entity.stored_fields, row, entity.name, service.cipher)
    values = context(service, conn, entity.name, row.id, stored)
    values["user"] = actor.as_context()
    related = SqlRelated(service, conn, (entity.name, row.id))
    machine = source.machine
    moves = machine.available(values, [actor.role], now=now, related=related)
    assigned = source.assignee is not None and stored.get(source.assignee) is not None
    when = record.get(due) if due else None
    if isinstance(when, dt.datetime):
        overdue = when < now.replace(tzinfo=None)
    else:
        overdue = isinstance(when, dt.date) and when < now.date()
    return Task(entity.name, record, machine.current(stored), when, overdue, assigned, moves)
