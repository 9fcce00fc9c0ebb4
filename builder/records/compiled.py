"""An entity's expressions, compiled once when the blueprint loads.

Defaults, computed values, date limits, visibility and validations are parsed and
checked here, so each record operation only evaluates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engines.forms import EntitySpec, FieldSpec, FieldType, child_scope, default_is_expression, entity_scope, field_type
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

    @property
    def stored_fields(self) -> list[CompiledField]:
        return [f for f in self.fields.values() if f.kind.stored]

    @property
    def child_fields(self) -> list[CompiledField]:
        return [f for f in self.fields.values() if not f.kind.stored]

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
    name: str, entities: Mapping[str, EntitySpec], tables: Mapping[str, object] | None = None
) -> CompiledEntity:
    """Compile every expression of entity `name` in the same scope the blueprint checks used."""
    spec = entities[name]
    scope = entity_scope(entities, name, user=True)

    def compile_(source: str) -> Expression:
        return compile_expression(source, scope=scope, tables=tables)

    def child_compile(table_field: str) -> Compile:
        inner = child_scope(entities, name, table_field, user=True)
        return lambda source: compile_expression(source, scope=inner, tables=tables)

    fields = {n: _compile_field(n, s, compile_, child_compile) for n, s in spec.fields.items()}
    validations = [CompiledValidation(compile_(v.rule), v.message, v.fields or []) for v in spec.validations]
    return CompiledEntity(name, spec, fields, validations)
