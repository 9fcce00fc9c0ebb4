"""What a write sets off, performed inside the write's own transaction.

After every create, update, delete and transition the record service calls `react`:
the workflows engine says which automations the event matches (`match_event`) and
what the record's timers should now be (`plan_timers`); this module performs the
ready actions as the system actor through the service's own write path, stores
the timers, and writes notifications and webhooks to the outbox. Anything that
fails raises AutomationFailed (a 422 naming the automation), and the caller's
transaction rolls the whole write back: nothing is ever half-done.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engines.workflows import Event, FlowError, ReadyAction, match_event, plan_timers

from . import outbox, timer_store
from .actor import SYSTEM
from .errors import Conflict, FieldError, NotFound, PermissionDenied, RecordError, ValidationFailed
from .links import LinkedRecord, LinkLoader
from .related import SqlRelated

if TYPE_CHECKING:
    from .service import RecordService

MAX_DEPTH = 5  # automations setting off automations: deeper than this is a loop in the blueprint


@dataclass(frozen=True)
class Run:
    """One chain of automations: the write's connection, its moment (aware, app timezone), how deep."""

    conn: sa.Connection
    now: dt.datetime
    depth: int = 0
    pending_outbox: list[dict[str, Any]] | None = None  # set: outbox rows are collected for one insert (timer_jobs)

    def deeper(self) -> Run:
        return replace(self, depth=self.depth + 1)


@dataclass(frozen=True)
class Written:
    """A record just written: its values before (None: created) and after, and what the writer sees."""

    entity: str
    record_id: int
    version: int
    before: dict[str, Any] | None
    after: dict[str, Any]
    present: Callable[[], dict[str, Any]] = field(repr=False, compare=False)

    @functools.cached_property
    def presented(self) -> dict[str, Any]:
        """What the writer sees of it, worked out when first asked: a batch's rows (an import's) mostly never are."""
        return self.present()

    def change(self, kind: str, transition: str | None = None, workflow: str | None = None) -> Change:
        return Change(self.entity, kind, self.record_id, self.version, self.before, self.after, transition, workflow)


@dataclass(frozen=True)
class Change:
    """A write as automations see it (`version` names the occurrence in outbox keys)."""

    entity: str
    kind: str  # created | updated | deleted | transition
    record_id: int
    version: int
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    transition: str | None = None
    workflow: str | None = None


class AutomationFailed(ValidationFailed):
    """An automation set off by the write could not run: the write is rolled back, and this says why."""

    def __init__(self, automation: str, reason: str):
        super().__init__([FieldError("__all__", "automation", f"automation `{automation}` failed: {reason}")])
        self.automation = automation


def context(
    service: RecordService,
    conn: sa.Connection,
    entity: str,
    record_id: int,
    values: Mapping | None,
    loader: LinkLoader | None = None,
) -> Any:
    """A record's values as expressions read them: links as lazy records (through `loader`, if given), `id` set."""
    if values is None:
        return None
    return {**(loader or service.link_loader(conn)).wrap(entity, values), "id": record_id}


def react(service: RecordService, run: Run, change: Change, *, events: bool = True) -> bool:
    """Run what `change` sets off: matching automations' actions, timers, outbox rows.

    True when actions were performed (they may have changed the record again).
    `events=False` (an actor writing history, see Actor.sets_off) plans the timers only.
    """
    flows = service.flows
    automations = [a for a in flows.of_entity(change.entity) if a.spec.when or a.spec.at] if flows else []
    if not automations:  # none reacts to writes (schedules and buttons only): nothing to do
        return False
    conn = run.conn
    before = context(service, conn, change.entity, change.record_id, change.before)
    after = context(service, conn, change.entity, change.record_id, change.after)
    related = SqlRelated(service, conn, (change.entity, change.record_id))
    event = Event(change.entity, change.kind, change.record_id, before, after, None, change.transition, change.workflow)
    try:
        firings = match_event(automations, event, now=run.now, related=related) if events else []
        plans = plan_timers(
            automations, change.entity, change.record_id, before, after, now=run.now, zone=service.zone, related=related
        )
    except FlowError as exc:
        raise AutomationFailed(exc.automation, str(exc).split(": ", 1)[-1]) from None
    timer_store.store_plans(conn, change.entity, change.record_id, plans, run.now, created=change.before is None)
    acted = False
    for firing in firings:
        if firing.due is not None:  # `after:` an event: a timer, acted on as the record is then
            timer_store.store_due(conn, firing.automation, change.entity, change.record_id, firing.due, run.now)
        elif firing.actions:
            perform(service, run, change.entity, change.record_id, firing.actions, f"v{change.version}")
            acted = True
    return acted


def perform(
    service: RecordService, run: Run, entity: str, record_id: int, actions: tuple[ReadyAction, ...], occurrence: str
) -> None:
    """Perform one automation's ready actions on the record as the system (within `run`'s transaction)."""
    for action in actions:
        if run.depth >= MAX_DEPTH:
            raise AutomationFailed(
                action.automation,
                f"automations set each other off more than {MAX_DEPTH} levels deep; check the blueprint for a loop",
            )
        try:
            _perform_one(service, run.deeper(), entity, record_id, action, occurrence)
        except AutomationFailed:
            raise
        except FlowError as exc:
            raise AutomationFailed(action.automation, str(exc).split(": ", 1)[-1]) from None
        except RecordError as exc:
            raise AutomationFailed(action.automation, f"its `{action.kind}` action was refused: {_why(exc)}") from None


def _perform_one(
    service: RecordService, run: Run, entity: str, record_id: int, action: ReadyAction, occurrence: str
) -> None:
    from .transitions import make_transition

    spec = action.spec
    values = {name: _plain(value) for name, value in action.values.items()}
    if spec.create is not None:
        target = service.entity(spec.create.entity)
        grant = service.policy.grant(SYSTEM, target.name)
        written = service.write_in(run.conn, SYSTEM, target, grant, None, values, None)
        react(service, run, written.change("created"))
    elif spec.update is not None or spec.assign is not None:
        where = (entity, record_id)
        if spec.update is not None and spec.update.record:
            where = _follow(service, run.conn, entity, record_id, spec.update.record)
        _update(service, run, *where, values)
    elif spec.transition is not None:
        make_transition(
            service, run, SYSTEM, entity, record_id, spec.transition.name, _version(service, run, entity, record_id)
        )
    elif spec.notify is not None:
        notify = spec.notify
        recipient = notify.to if notify.to is not None else f"role:{notify.to_role}"
        outbox.add(
            run.conn,
            action,
            notify.channel,
            notify.template,
            entity,
            record_id,
            recipient,
            occurrence,
            run.now,
            run.pending_outbox,
        )
    elif spec.webhook is not None:
        url = spec.webhook.url
        outbox.add(run.conn, action, "webhook", None, entity, record_id, url, occurrence, run.now, run.pending_outbox)


def _update(service: RecordService, run: Run, entity: str, record_id: int, values: dict[str, Any]) -> None:
    target = service.entity(entity)
    grant = service.policy.grant(SYSTEM, entity)
    version = _version(service, run, entity, record_id)
    written = service.write_in(run.conn, SYSTEM, target, grant, record_id, values, version)
    react(service, run, written.change("updated"))


def _version(service: RecordService, run: Run, entity: str, record_id: int) -> int:
    table = service.schema.table(entity)
    version = run.conn.execute(sa.select(table.c.version).where(table.c.id == record_id)).scalar()
    if version is None:
        raise NotFound(f"{entity} {record_id} no longer exists")
    return int(version)


def _follow(service: RecordService, conn: sa.Connection, entity: str, record_id: int, path: str) -> tuple[str, int]:
    """The record a path of links (`patient`, `patient.primary_doctor`) leads to."""
    current: Any = context(service, conn, entity, record_id, _stored(service, conn, entity, record_id))
    for name in path.split("."):
        target = service.link_targets(entity).get(name)
        value = current.get(name) if current is not None else None
        if target is None or not isinstance(value, LinkedRecord):
            raise NotFound(f"`{path}` leads to no record (the link `{name}` is empty)")
        entity, current = target, value
    return entity, current.id


def _stored(service: RecordService, conn: sa.Connection, entity: str, record_id: int) -> dict[str, Any]:
    record = service.link_loader(conn).record(entity, record_id)
    if record is None:
        raise NotFound(f"{entity} {record_id} no longer exists")
    return record


def _plain(value: Any) -> Any:
    """A value as the write path takes it: a linked record becomes its id."""
    if isinstance(value, LinkedRecord):
        return value.id
    if isinstance(value, Mapping) and "id" in value:
        return value["id"]
    return value


def _why(exc: RecordError) -> str:
    if isinstance(exc, ValidationFailed):
        return "; ".join(f"{e.field}: {e.message}" if e.field != "__all__" else e.message for e in exc.errors)
    if isinstance(exc, (Conflict, NotFound, PermissionDenied)):
        return str(exc)
    return str(exc) or type(exc).__name__
