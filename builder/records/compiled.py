"""An entity's expressions, compiled once when the blueprint loads.

Defaults, computed values, date limits, visibility and validations are parsed and
checked here, so each record operation only evaluates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engines.forms import EntitySpec, FieldSpec, FieldType, field_type
from engines.rules import Expression, compile_expression


def _maybe_expression(value: Any, names: set[str]) -> Expression | None:
    if isinstance(value, str):
        return compile_expression(value, names=names)
    return None


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
    children: dict[str, "CompiledField"] = field(default_factory=dict)

    def limit(self, which: str, context: dict[str, Any]) -> Any:
        expression = self.minimum if which == "min" else self.maximum
        if expression is not None:
            return self.kind.coerce(expression.evaluate(context), self.spec)
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


def _compile_field(name: str, spec: FieldSpec, names: set[str]) -> CompiledField:
    kind = field_type(spec.type)
    compiled = CompiledField(name, spec, kind)
    if isinstance(spec.default, str) and spec.type not in ("text", "long_text", "select", "state", "phone", "email"):
        compiled.default = compile_expression(spec.default, names=names)
    elif isinstance(spec.default, str) and _looks_like_expression(spec.default):
        compiled.default = compile_expression(spec.default, names=names)
    else:
        compiled.default_value = spec.default
    compiled.compute = compile_expression(spec.compute, names=names) if spec.compute else None
    compiled.minimum = _maybe_expression(spec.min, names)
    compiled.maximum = _maybe_expression(spec.max, names)
    compiled.visible_if = compile_expression(spec.visible_if, names=names) if spec.visible_if else None
    if spec.fields:
        child_names = set(spec.fields) | {"user", "parent"}
        compiled.children = {n: _compile_field(n, s, child_names) for n, s in spec.fields.items()}
    return compiled


def _looks_like_expression(text: str) -> bool:
    """A text default like "'lead'" or "today()" is an expression; a bare word like lead is a literal."""
    stripped = text.strip()
    return stripped[:1] in ("'", '"') or "(" in stripped


def compile_entity(name: str, spec: EntitySpec) -> CompiledEntity:
    names = set(spec.fields) | {"user", "id"}
    fields = {n: _compile_field(n, s, names) for n, s in spec.fields.items()}
    validations = [CompiledValidation(compile_expression(v.rule, names=names), v.message, v.fields or [])
                   for v in spec.validations]
    return CompiledEntity(name, spec, fields, validations)
