"""What an entity's expressions may read, with types: one view shared by the checks and the record service.

The blueprint checks compile every expression against exactly the Scope the record
service evaluates it in, so an expression that loads is one that runs. Root names
are the record's fields plus `id`; a link field is a record whose fields can be
read on (`patient.primary_doctor.name`); `user` (the signed-in account) is there
for visibility, validations, row filters and defaults, and always means the
account, even in an entity that has a field called `user` (reach that one through
a link, as in `doctor.user`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from engines.rules import FieldType as RuleType
from engines.rules import RecordType, Scope, choice

from .fieldtypes import FIELD_TYPES
from .models import EntitySpec, FieldSpec

# What `user` holds in expressions (see builder.records.actor.Actor.as_context).
USER_ATTRIBUTES = ("id", "name", "role")
# Row filters (`where`) are translated to SQL, which also reads these words as literals.
ROW_FILTER_LITERALS = {"true": "boolean", "false": "boolean", "null": "null", "none": "null"}
# A string default of these types is a literal (`default: lead`) unless it looks like an expression.
LITERAL_STRING_DEFAULT_TYPES = frozenset({"text", "long_text", "select", "state", "phone", "email"})

Entities = Mapping[str, EntitySpec]


def default_is_expression(spec: FieldSpec) -> bool:
    """Whether `default:` is an expression to evaluate (`now()`) rather than a literal value (`lead`).

    A string is an expression, except for text-like and choice types, where a bare
    word is the value itself; there a quote or a bracket (`"'lead'"`, `today()`)
    marks an expression.
    """
    if not isinstance(spec.default, str):
        return False
    if spec.type not in LITERAL_STRING_DEFAULT_TYPES:
        return True
    stripped = spec.default.strip()
    return stripped[:1] in ("'", '"') or "(" in stripped


def rule_type(spec: FieldSpec, entities: Entities) -> RuleType:
    """The rule type of one field: what the expression checker knows about its value."""
    kind = FIELD_TYPES.get(spec.type)
    if kind is None:
        return RuleType("any")
    if spec.type in ("select", "state") and spec.options:
        return choice(*spec.options)
    if kind.rule_type == "record":
        if spec.to is not None and spec.to in entities:
            target = spec.to
            return RuleType("record", record=RecordType(lambda: linked_scope(entities, target)))
        return RuleType("any")  # a dangling link is reported once, by the field checks
    return RuleType(kind.rule_type)


def _user_type(roles: Iterable[str] | None) -> RuleType:
    role = choice(*roles) if roles else RuleType("text")
    return RuleType("record", record=RecordType(Scope({"id": "integer", "name": "text", "role": role})))


def _record_names(fields: Mapping[str, FieldSpec], entities: Entities) -> dict[str, RuleType]:
    names = {name: rule_type(spec, entities) for name, spec in fields.items()}
    names["id"] = RuleType("integer")
    return names


def linked_scope(entities: Entities, entity: str) -> Scope:
    """The fields of a record reached through a link (every field, `id` too)."""
    spec = entities.get(entity)
    if spec is None:
        return Scope(open=True)
    return Scope(_record_names(spec.fields, entities))


def _root_scope(
    fields: Mapping[str, FieldSpec], entities: Entities, user: bool, roles: Iterable[str] | None, row_filter: bool
) -> dict[str, RuleType]:
    names = _record_names(fields, entities)
    names.pop("user", None)  # at the root `user` is the signed-in account, never a field
    if user:
        names["user"] = _user_type(roles)
    if row_filter:
        names.update({word: RuleType(kind) for word, kind in ROW_FILTER_LITERALS.items() if word not in names})
    return names


def entity_scope(
    entities: Entities, entity: str, *, user: bool = False, roles: Iterable[str] | None = None, row_filter: bool = False
) -> Scope:
    """The Scope an expression of `entity` is compiled and evaluated in.

    `user=True` adds the signed-in account (visible_if, validations, where, defaults);
    `roles` lets the checker refuse `user.role == 'doctr'`; `row_filter=True` adds the
    literal words a `where` may use (true, false, null).
    """
    spec = entities.get(entity)
    fields = spec.fields if spec is not None else {}
    return Scope(_root_scope(fields, entities, user, roles, row_filter))


def child_scope(
    entities: Entities, entity: str, table_field: str, *, user: bool = False, roles: Iterable[str] | None = None
) -> Scope:
    """The Scope of a child-table row: its own fields, `id`, and `parent` (the parent record)."""
    spec = entities.get(entity)
    table = spec.fields.get(table_field) if spec is not None else None
    fields = (table.fields if table is not None else None) or {}
    names = _root_scope(fields, entities, user, roles, row_filter=False)
    names["parent"] = RuleType("record", record=RecordType(lambda: linked_scope(entities, entity)))
    return Scope(names)


def entity_names(entities: Entities, entity: str, *, user: bool = False) -> frozenset[str]:
    """The root names an expression of `entity` may read (for callers that want no types)."""
    return frozenset(entity_scope(entities, entity, user=user).names())


def link_filter_scope(entities: Entities, entity: str, target: str, *, roles: Iterable[str] | None = None) -> Scope:
    """The Scope of a link's `filter:`: the target's fields, `record` (the form being filled) and `user`.

    Bare names are the candidate target record's fields (they become SQL columns);
    `record.<field>` reads the record being written, whose values are constants by the
    time the filter runs; the row-filter words (true, false, null) are there too.
    """
    target_spec = entities.get(target)
    fields = target_spec.fields if target_spec is not None else {}
    names = _root_scope(fields, entities, True, roles, row_filter=True)
    names.pop("record", None)  # at the root `record` is the record being written, as `user` is the account
    names["record"] = RuleType("record", record=RecordType(lambda: linked_scope(entities, entity)))
    return Scope(names)
