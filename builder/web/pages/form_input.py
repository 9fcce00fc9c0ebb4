"""A submitted form back into field values for the record service.

Only the inputs the form showed are read (so a crafted POST cannot set a field
the form did not offer; the record service would refuse it anyway). An unticked
checkbox sends nothing, which here means false; a field hidden by its
`visible_if` is cleared, so a stale hidden value cannot break a rule.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData

from builder.records import Actor
from builder.records.compiled import CompiledEntity, CompiledField

from .form_layout import FormView
from .visibility import evaluate

ROW_KEY = re.compile(r"^(?P<field>[a-z0-9_]+)-(?P<index>\d{1,4})-(?P<column>[a-z0-9_]+)$")


def raw_submission(form: FormData, view: FormView, entity: CompiledEntity) -> dict[str, Any]:
    """What the user typed, per editable field (rows as lists of dicts), for re-display and saving."""
    raw: dict[str, Any] = {}
    for name in view.editable_names:
        field = entity.fields[name]
        if field.children:
            raw[name] = _rows(form, field)
        elif field.spec.type == "boolean":
            raw[name] = form.get(name) in ("true", "on", "1")
        elif field.spec.type == "multi_select":
            raw[name] = [v for v in form.getlist(name) if isinstance(v, str)]
        else:
            value = form.get(name, "")
            raw[name] = value if isinstance(value, str) else ""
    return raw


def _rows(form: FormData, field: CompiledField) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    removed: set[int] = set()
    for key, value in form.multi_items():
        match = ROW_KEY.match(key)
        if not match or match["field"] != field.name or not isinstance(value, str):
            continue
        index, column = int(match["index"]), match["column"]
        if column == "_remove":
            removed.add(index)
        elif column in field.children and field.children[column].compute is None:
            rows.setdefault(index, {})[column] = value
    kept = []
    for index in sorted(rows):
        row = rows[index]
        if index in removed or all(v.strip() == "" for v in row.values()):
            continue
        kept.append(row)
    return kept


def values_to_save(raw: dict[str, Any], entity: CompiledEntity, actor: Actor, stored: dict[str, Any]) -> dict[str, Any]:
    """The values to send to the record service: hidden-by-condition fields cleared, locked ones left out.

    A field whose `readonly_if` (or its section's) holds was a disabled input, which the browser does not
    send; leaving it out keeps the stored value instead of reading "empty" as a change.
    """
    values = dict(raw)
    merged = {**stored, **raw}
    for name in list(values):
        field = entity.fields[name]
        if any(evaluate(None, entity, merged, actor, compiled=c) for c in field.lock_conditions):
            del values[name]
            continue
        if field.visible_if is not None and not evaluate(None, entity, merged, actor, compiled=field.visible_if):
            values[name] = None
    return values
