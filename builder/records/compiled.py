"""An entity's expressions, compiled once when the blueprint loads.

Defaults, computed values, date limits, visibility and validations are parsed and
checked here, so each record operation only evaluates.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engines.forms import (
    EntitySpec,
    FieldSpec,
    FieldType,
    FormSpec,
    child_scope,
    default_is_expression,
    entity_scope,
    field_type,
)
from engines.rules import Expression, compile_expression

Compile = Callable[[str], Expression]


@dataclass
class CompiledField:
    """One field with its type and its expressions."""

    name: str
    spec: FieldSpec
    kind: FieldType
    default: Expression | None = None
    default_value: Any = None
    compute: Expression | None = None
    minimum: Expression | None = None
    maximum: Expression | None = None
    visible_if: Expression | None = None
    required_if: Expression | None = None
    readonly_if: Expression | None = None
    children: dict[str, CompiledField] = field(default_factory=dict)
    # its form sections' `required_if`, each with the section's `visible_if` (a hidden section requires nothing)
    section_required_if: list[tuple[Expression, Expression | None]] = field(default_factory=list)
    section_readonly_if: list[Expression] = field(default_factory=list)  # its form sections' `readonly_if`

    @property
    def lock_conditions(self) -> list[Expression]:
        """`readonly_if` of the field and of every form section holding it: any true locks it."""
        return ([self.readonly_if] if self.readonly_if is not None else []) + self.section_readonly_if

    @functools.cached_property
    def has_limits(self) -> bool:
        """A `min` or `max`, literal or expression: most fields have neither, and skip working them out."""
        return not (self.minimum is None and self.maximum is None and self.spec.min is None and self.spec.max is None)

    def limit(self, which: str, record: dict[str, Any], evaluate: Callable[[Expression, dict], Any]) -> Any:
        """The field's min or max: a literal, or an expression (`today()`) evaluated for `record`."""
        expression = self.minimum if which == "min" else self.maximum
        if expression is not None:
            return self.kind.coerce(evaluate(expression, record), self.spec)
        return self.spec.min if which == "min" else self.spec.max


@dataclass
class CompiledValidation:
    rule: Expression
    message: Any
    fields: list[str]


@dataclass
class CompiledEntity:
    """Everything about one entity the record service needs at run time."""

    name: str
    spec: EntitySpec
    fields: dict[str, CompiledField]
    validations: list[CompiledValidation]
    _of_type: dict[str, tuple[str, ...]] = field(default_factory=dict, init=False, repr=False, compare=False)
    # what the layers above work out from the entity once, on first use (the filter keys its list accepts)
    derived: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def fields_of_type(self, kind: str) -> tuple[str, ...]:
        """The names of the fields of type `kind`, in blueprint order (asked per message by delivery)."""
        if kind not in self._of_type:
            self._of_type[kind] = tuple(name for name, f in self.fields.items() if f.spec.type == kind)
        return self._of_type[kind]

    # Worked out once (the fields are fixed once compiled): every write and read asks for them.
    @functools.cached_property
    def stored_fields(self) -> tuple[CompiledField, ...]:
        return tuple(f for f in self.fields.values() if f.kind.stored)

    @functools.cached_property
    def child_fields(self) -> tuple[CompiledField, ...]:
        return tuple(f for f in self.fields.values() if not f.kind.stored)

    @functools.cached_property
    def filtered_links(self) -> tuple[CompiledField, ...]:
        """Links with a `filter:` (link_filters.py): most entities have none, and their writes skip the pass."""
        return tuple(f for f in self.fields.values() if f.spec.filter and f.spec.to)

    @property
    def has_phi(self) -> bool:
        return any(f.spec.phi or f.spec.encrypted for f in self.fields.values())


def _compile_field(
    name: str, spec: FieldSpec, compile_: Compile, child_compile: Callable[[str], Compile]
) -> CompiledField:
    kind = field_type(spec.type)
    compiled = CompiledField(name, spec, kind)
    if default_is_expression(spec):
        compiled.default = compile_(spec.default)
    else:
        compiled.default_value = spec.default
    compiled.compute = compile_(spec.compute) if spec.compute else None
    compiled.minimum = compile_(spec.min) if isinstance(spec.min, str) else None
    compiled.maximum = compile_(spec.max) if isinstance(spec.max, str) else None
    compiled.visible_if = compile_(spec.visible_if) if spec.visible_if else None
    compiled.required_if = compile_(spec.required_if) if spec.required_if else None
    compiled.readonly_if = compile_(spec.readonly_if) if spec.readonly_if else None
    if spec.fields:
        inner = child_compile(name)
        compiled.children = {n: _compile_field(n, s, inner, child_compile) for n, s in spec.fields.items()}
    return compiled


def compile_entity(
    name: str,
    entities: Mapping[str, EntitySpec],
    tables: Mapping[str, object] | None = None,
    forms: Mapping[str, FormSpec] | None = None,
) -> CompiledEntity:
    """Compile every expression of entity `name` in the same scope the blueprint checks used.

    A form section's `required_if` and `readonly_if` belong to each field in it and
    bind every write of the entity (pages, API, imports), not only that form's.
    """
    spec = entities[name]
    scope = entity_scope(entities, name, user=True)

    def compile_(source: str) -> Expression:
        return compile_expression(source, scope=scope, tables=tables)

    def child_compile(table_field: str) -> Compile:
        inner = child_scope(entities, name, table_field, user=True)
        return lambda source: compile_expression(source, scope=inner, tables=tables)

    fields = {n: _compile_field(n, s, compile_, child_compile) for n, s in spec.fields.items()}
    for form in (forms or {}).values():
        if form.entity != name:
            continue
        for section in form.layout:
            required = compile_(section.required_if) if section.required_if else None
            shown = compile_(section.visible_if) if section.visible_if else None
            locked = compile_(section.readonly_if) if section.readonly_if else None
            for field_name in section.fields:
                if field_name not in fields:
                    continue
                if required is not None:
                    fields[field_name].section_required_if.append((required, shown))
                if locked is not None:
                    fields[field_name].section_readonly_if.append(locked)
    validations = [CompiledValidation(compile_(v.rule), v.message, v.fields or []) for v in spec.validations]
    return CompiledEntity(name, spec, fields, validations)
