"""Why a computed value is what it is: the values it read and the decision rows that matched.

Shown as "Why?" on record pages and as `_explain` in the API. The expression runs on
the stored record (so the explanation matches the stored value), but every value it
shows passes the actor's permissions, along links too: a value the actor may not
read (a hidden field, or a linked record outside its rows) is shown as hidden, a
sensitive one masked, and a decision that read either says its outcome, not its
why. An explanation that shows PHI is audited as a view of the record it belongs to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from builder.storage.database import write_transaction
from builder.system_tables import audit as audit_table

from .actor import Actor
from .auditing import audit_row
from .codec import decode
from .masked_lookups import is_masked
from .related import SqlRelated

if TYPE_CHECKING:
    from .links import LinkLoader
    from .service import RecordService

HIDDEN: dict[str, Any] = {"hidden": True}
NOT_SHOWN = {
    "en": "This value could not be worked out from what you may see.",
    "zh-CN": "无法根据您有权查看的内容得出此值。",
}


@dataclass(frozen=True)
class Seen:
    """What the actor may see of one path read by an expression."""

    hidden: bool = False
    masked: Any = None  # the field, when the actor sees it masked
    phi_of: tuple[str, int] | None = None  # the record whose PHI this value is


class ActorView:
    """Walks `a.b.c` paths as the actor may: readable fields, visible linked records, masks."""

    def __init__(self, service: RecordService, conn: sa.Connection, actor: Actor, loader: LinkLoader):
        self.service, self.conn, self.actor, self.loader = service, conn, actor, loader
        self._visible: dict[tuple[str, int], bool] = {}

    def _can_see(self, entity: str, record_id: int) -> bool:
        key = (entity, record_id)
        if key not in self._visible:
            grant = self.service.policy.grant(self.actor, entity)
            table = self.service.schema.table(entity)
            query = sa.select(table.c.id).where(table.c.id == record_id)
            condition = self.service.row_filter(self.actor, entity, grant)
            query = query.where(condition) if condition is not None else query
            self._visible[key] = bool(grant.readable) and self.conn.execute(query).first() is not None
        return self._visible[key]

    def seen(self, entity: str, record: dict[str, Any], path: list[str]) -> Seen:
        if path[0] in ("user", "id"):
            return Seen()  # the actor's own account, or the record's id
        current_entity, current = entity, record
        for position, name in enumerate(path):
            if name == "id":
                return Seen()
            compiled = self.service.entities[current_entity]
            field = compiled.fields.get(name)
            grant = self.service.policy.grant(self.actor, current_entity)
            if field is None or name not in grant.readable:
                return Seen(hidden=True)
            if position == len(path) - 1:
                protected = field.spec.phi or field.spec.encrypted
                return Seen(
                    masked=field if is_masked(field, grant) else None,
                    phi_of=(current_entity, current["id"]) if protected and "id" in current else None,
                )
            linked = current.get(name)
            target = field.spec.to if field.spec.type == "link" else None
            if linked is None:
                return Seen()  # null stops the path: nothing is read beyond it
            linked_id = getattr(linked, "id", linked)
            if target is None or not isinstance(linked_id, int) or not self._can_see(target, linked_id):
                return Seen(hidden=True)
            current_entity, current = target, self.loader.record(target, linked_id) or {"id": linked_id}
        return Seen()


def _shown(seen: Seen, value: Any) -> Any:
    if seen.hidden:
        return HIDDEN
    if seen.masked is not None and value is not None:
        try:
            return seen.masked.kind.mask(value, seen.masked.spec)
        except (TypeError, ValueError, AttributeError):
            return HIDDEN
    return value


def explain_record(service: RecordService, actor: Actor, entity_name: str, record_id: int) -> dict[str, Any]:
    """Why each computed value the actor can see is what it is: values read, decision rows matched."""
    entity = service.entity(entity_name)
    grant = service.policy.require(actor, entity_name, "read")
    explained: dict[str, Any] = {}
    phi_shown: dict[tuple[str, int], set[str]] = {}
    with service.engine.connect() as conn:
        row = service.visible_row(conn, actor, entity_name, grant, record_id)
        record = {"id": record_id, **decode(entity.stored_fields, row, entity_name, service.cipher)}
        loader = service.link_loader(conn)
        view = ActorView(service, conn, actor, loader)
        context = loader.wrap(entity_name, record)
        context.update(user=actor.as_context(), id=record_id)
        options = {"related": SqlRelated(service, conn, (entity_name, record_id)), "timezone": service.timezone}
        for name, field in entity.fields.items():
            if field.compute is None or name not in grant.readable:
                continue
            why = field.compute.explain(context, **options)
            reads, kept_back = {}, False
            for path, value in why["reads"].items():
                seen = view.seen(entity_name, record, path.split("."))
                reads[path] = _shown(seen, value)
                kept_back = kept_back or seen.hidden or seen.masked is not None
                if seen.phi_of is not None and not seen.hidden and seen.masked is None:
                    phi_shown.setdefault(seen.phi_of, set()).add(path)
            why["reads"] = reads
            if is_masked(field, grant) and why["value"] is not None:
                why["value"] = _shown(Seen(masked=field), why["value"])
            if kept_back and why["error"]:  # a Python error text could quote what the actor may not see
                why["error"] = NOT_SHOWN.get(actor.locale) or NOT_SHOWN["en"]
            why["decisions"] = [
                _decision(service, view, entity_name, record, table, context, options, actor.locale)
                for table in sorted(getattr(field.compute, "tables", None) or ())
                if table in service.decision_tables
            ]
            explained[name] = why
    if phi_shown:
        _audit_views(service, actor, entity_name, record_id, phi_shown)
    return explained


def _decision(
    service: RecordService,
    view: ActorView,
    entity_name: str,
    record: dict[str, Any],
    table: str,
    context: dict[str, Any],
    options: dict[str, Any],
    locale: str,
) -> dict[str, Any]:
    """One decision table's explanation; only its outcome when an input is hidden or masked for the actor."""
    decision_table = service.decision_tables[table]
    decision = decision_table.explain(context, **options)
    paths = [path for expression in getattr(decision_table, "inputs", []) for path in expression.paths]
    seen = [view.seen(entity_name, record, list(path)) for path in paths]
    if any(s.hidden or s.masked is not None for s in seen):
        decision.update(inputs=[], rows=[], matched=[], chosen=None, hidden_inputs=True)
        if decision.get("error"):
            decision["error"] = NOT_SHOWN.get(locale) or NOT_SHOWN["en"]
    return decision


def _audit_views(
    service: RecordService, actor: Actor, entity_name: str, record_id: int, phi_shown: dict[tuple[str, int], set[str]]
) -> None:
    """An explanation that showed PHI is a view of each record whose PHI it showed."""
    at = service.clock()
    with write_transaction(service.engine) as conn:
        for (entity, shown_id), paths in sorted(phi_shown.items()):
            detail = {"explain": f"{entity_name} {record_id}", "fields": sorted(paths)}
            conn.execute(
                audit_table.insert().values(
                    **audit_row(actor, "view", entity, shown_id, at, detail=json.dumps(detail, ensure_ascii=False))
                )
            )
