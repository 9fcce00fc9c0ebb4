"""`visible_if`, `required_if`, `readonly_if`: evaluated on the server, mirrored in the browser when simple.

The browser (static/forms.js) only understands `field == 'x'`, `field != 'x'`,
`field in [...]` and a bare `field`; anything else is decided by the server when
the form is rendered and again when it is submitted.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from typing import Any

from builder.records import Actor
from builder.records.compiled import CompiledEntity
from engines.rules import compile_expression


def evaluate(
    source: str | None, entity: CompiledEntity, values: Mapping[str, Any], actor: Actor, compiled: Any = None
) -> bool:
    """True when the condition holds (or cannot be evaluated: never hide by accident)."""
    if not source and compiled is None:
        return True
    try:
        expression = compiled or compile_expression(source or "", names=set(entity.fields) | {"user", "id"})
        return bool(expression.evaluate({**values, "user": actor.as_context()}))
    except Exception:  # noqa: BLE001 - an unevaluable condition shows the thing
        return True


def browser_condition(source: str | None, field_names: set[str]) -> str | None:
    """The condition as JSON for forms.js, or None when the browser cannot evaluate it."""
    if not source:
        return None
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return None
    if isinstance(node, ast.Name) and node.id in field_names:
        return json.dumps({"field": node.id, "op": "truthy", "values": []})
    if not (
        isinstance(node, ast.Compare)
        and len(node.ops) == 1
        and isinstance(node.left, ast.Name)
        and node.left.id in field_names
    ):
        return None
    right = node.comparators[0]
    op = {ast.Eq: "in", ast.NotEq: "not_in", ast.In: "in", ast.NotIn: "not_in"}.get(type(node.ops[0]))
    if op is None:
        return None
    if isinstance(right, ast.Constant):
        values = [right.value]
    elif isinstance(right, (ast.List, ast.Tuple)) and all(isinstance(e, ast.Constant) for e in right.elts):
        values = [e.value for e in right.elts if isinstance(e, ast.Constant)]
    else:
        return None
    as_text = ["true" if v is True else "false" if v is False else "" if v is None else str(v) for v in values]
    return json.dumps({"field": node.left.id, "op": op, "values": as_text})


def browser_conditions(sources: list[str], field_names: set[str]) -> str | None:
    """Several conditions, any of which holds (a field's own and its sections'), as one JSON list for forms.js.

    None when one of them is beyond the browser: then the server's answer stands for all.
    """
    rules = [browser_condition(source, field_names) for source in sources]
    if not rules or any(rule is None for rule in rules):
        return None
    if len(rules) == 1:
        return rules[0]
    return "[" + ", ".join(rule for rule in rules if rule is not None) + "]"
