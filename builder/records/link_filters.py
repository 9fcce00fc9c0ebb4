"""A link's `filter:`: which target records it may point at, as one SQL clause for pickers and writes,
and the target values it fixes (a quick-create of the target starts from them).

The same clause narrows a picker's choices (with the form's current values) and
checks every write (with the record as it will be stored), so what the picker offers
and what the record service accepts cannot drift apart, and the API cannot go around it.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from engines.forms import FieldValueError, localized, message

from .actor import Actor
from .compiled import CompiledEntity
from .errors import FieldError
from .rowfilter import compile_row_filter, pinned_columns

if TYPE_CHECKING:
    from .service import RecordService

PASSED_LINK_FILTERS = "crm_batch_link_filters"  # conn.info key: target entity -> judgements that passed (batch.py)


@dataclass(frozen=True)
class LinkChoice:
    """Choosing a value for link `field` of `entity` while the record holds `values` (typed)."""

    entity: str
    field: str
    values: Mapping[str, Any]


@functools.lru_cache(maxsize=256)
def record_names(source: str) -> frozenset[str]:
    """The fields of the record a filter reads (`record.department` -> department)."""
    tree = ast.parse(source.strip(), mode="eval")
    return frozenset(
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "record"
    )


def _constants(values: Mapping[str, Any]) -> dict[str, Any]:
    """The record's values as the filter compares them: a linked record is its id."""
    return {k: getattr(v, "id", v) if isinstance(v, Mapping) else v for k, v in values.items()}


def filter_clause(
    service: RecordService, actor: Actor, entity: str, field: str, values: Mapping[str, Any]
) -> sa.ColumnElement[bool] | None:
    """The SQL clause the link's targets must pass for a record holding `values`; None without a filter."""
    spec = service.entity(entity).fields[field].spec
    if not spec.filter or not spec.to:
        return None
    return compile_row_filter(
        spec.filter,
        spec.to,
        service.schema.table,
        lambda e, f: service.link_targets(e).get(f),
        actor.as_context(),
        record=_constants(values),
    )


def check_link_filters(
    service: RecordService,
    conn: sa.Connection,
    actor: Actor,
    entity: CompiledEntity,
    record: Mapping[str, Any],
    typed: Mapping[str, Any],
    stored: Mapping[str, Any],
    skip: set[str],
    locale: str,
) -> list[FieldError]:
    """Each filtered link the write sets, or whose filter reads a field the write changes, passes its filter.

    A link left as it was is not judged again when nothing it depends on changed (a
    doctor who later moved department stays on last year's visits).
    """
    if not entity.filtered_links:
        return []
    creating = not stored  # a new record: every link it holds is judged, a default one too
    changed = {name for name, value in typed.items() if value != stored.get(name)}
    errors: list[FieldError] = []
    for field in entity.filtered_links:
        name, source, value = field.name, field.spec.filter, record.get(field.name)
        if not source or not field.spec.to or value is None or name in skip:
            continue
        if not creating and name not in changed and not (record_names(source) & changed):
            continue
        passed = _passed(conn, field.spec.to, (entity.name, name, value, source, record))
        if passed is not None and passed.known:
            continue
        clause = filter_clause(service, actor, entity.name, name, record)
        target = service.schema.table(field.spec.to)
        query = sa.select(target.c.id).where(target.c.id == value)
        if conn.execute(query.where(clause) if clause is not None else query).first() is None:
            label = localized(field.spec.label, locale, name)
            errors.append(FieldError(name, "link_filter", message("link_filter", locale, label=label)))
        elif passed is not None:
            passed.remember()
    return errors


class _Passed:
    """One link-filter judgement a batch may already have made: same link, target and the values it reads."""

    def __init__(self, seen: set[Hashable], key: Hashable):
        self.seen, self.key = seen, key

    @property
    def known(self) -> bool:
        return self.key in self.seen

    def remember(self) -> None:
        self.seen.add(self.key)


def _passed(conn: sa.Connection, target: str, link: tuple[str, str, Any, str, Mapping[str, Any]]) -> _Passed | None:
    """Within a batch (one actor, one transaction), a target that passed a link's filter for the same values
    passes again until the batch writes the target's entity (batch.py forgets them then); None outside one."""
    memo: dict[str, set[Hashable]] | None = conn.info.get(PASSED_LINK_FILTERS)
    if memo is None:
        return None
    entity, name, value, source, record = link
    read = tuple(sorted((n, _constants({n: record.get(n)})[n]) for n in record_names(source)))
    key = (entity, name, value, read)
    try:
        hash(key)
    except TypeError:  # a list value the filter reads: judged every time
        return None
    return _Passed(memo.setdefault(target, set()), key)


def pinned_values(service: RecordService, actor: Actor, choice: LinkChoice) -> dict[str, Any]:
    """Target fields the link's filter fixes for a record holding `choice.values`, typed for the target.

    What a quick-create of the target starts from, so the new record passes the filter
    (`role == 'doctor'`, `department == record.department` once a department is chosen).
    Fields a value could not be set on (computed, tables, unknown) are left out.
    """
    spec = service.entity(choice.entity).fields[choice.field].spec
    if not spec.filter or not spec.to:
        return {}
    target = service.entity(spec.to)
    pinned: dict[str, Any] = {}
    for name, value in pinned_columns(spec.filter, actor.as_context(), _constants(choice.values)).items():
        field = target.fields.get(name)
        if field is None or field.children or field.compute is not None or not field.kind.stored:
            continue
        try:
            pinned[name] = field.kind.coerce(value, field.spec)
        except FieldValueError:
            continue
    return pinned


def check_admitted(
    service: RecordService, conn: sa.Connection, actor: Actor, choice: LinkChoice, record_id: int
) -> FieldError | None:
    """A record just written for `choice` (a quick-create) must be one the link admits, or nothing is kept."""
    clause = filter_clause(service, actor, choice.entity, choice.field, choice.values)
    if clause is None:
        return None
    target = service.schema.table(service.link_targets(choice.entity)[choice.field])
    if conn.execute(sa.select(target.c.id).where(target.c.id == record_id, clause)).first() is not None:
        return None
    field = service.entity(choice.entity).fields[choice.field]
    label = localized(field.spec.label, actor.locale, choice.field)
    return FieldError("__all__", "link_filter_new", message("link_filter_new", actor.locale, label=label))
