"""Turn input into a valid record: coerce, default, compute, then validate.

One explicit function per step, called in this order by the record service for every
writer, so a rule can never be skipped and every problem is reported at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from builder.request_ids import current_request_id
from engines.forms import FieldValueError, localized, message
from engines.rules import RuleError

from .compiled import CompiledEntity, CompiledField
from .errors import FieldError
from .policy import Grant

logger = logging.getLogger("builder.records")


class Evaluate(Protocol):
    """(expression, record) -> value, with links, user and helpers; `for_rows` gives a child table's."""

    def __call__(self, expression: Any, record: Mapping[str, Any]) -> Any: ...

    def for_rows(self, table_field: str, parent_record: Mapping[str, Any]) -> Evaluate: ...


def _error(path: str, code: str, locale: str, **params: Any) -> FieldError:
    return FieldError(path, code, message(code, locale, **params), params or None)


def _rule_failed(path: str, field: CompiledField, locale: str, exc: Exception) -> FieldError:
    """A rule that could not run: the reason goes to the log with the request id, never to the reader."""
    _log_rule_failure(path, exc)
    return _error(path, "rule_failed", locale, label=localized(field.spec.label, locale, field.name))


def _log_rule_failure(path: str, exc: Exception) -> None:
    logger.warning("rule failed for %s (request id %s): %s", path, current_request_id(), exc)


def coerce_input(
    fields: dict[str, CompiledField], values: Mapping[str, Any], locale: str, prefix: str = ""
) -> tuple[dict[str, Any], list[FieldError]]:
    """Typed values for the given input; unknown and computed fields are errors."""
    typed: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, raw in values.items():
        field = fields.get(name) if isinstance(name, str) else None
        path = f"{prefix}{name}"
        if field is None:
            errors.append(_error(path, "unknown_field", locale))
            continue
        if field.compute is not None:
            errors.append(_error(path, "read_only", locale))
            continue
        try:
            if field.children:
                typed[name] = coerce_rows(field, raw, locale, errors, path)
            else:
                typed[name] = field.kind.coerce(raw, field.spec)
        except FieldValueError as exc:
            errors.append(_error(path, exc.code, locale, **exc.params))
    return typed, errors


def coerce_rows(field: CompiledField, raw: Any, locale: str, errors: list[FieldError], path: str) -> list[dict]:
    """Child-table rows: each a dict of the child fields (an `id` keeps an existing row)."""
    rows = field.kind.coerce(raw, field.spec)
    typed_rows = []
    for i, row in enumerate(rows):
        row = {k: v for k, v in row.items() if k != "id"}
        typed, row_errors = coerce_input(field.children, row, locale, prefix=f"{path}.{i}.")
        errors.extend(row_errors)
        typed_rows.append(typed)
    return typed_rows


def apply_defaults(
    entity_fields: dict[str, CompiledField], record: dict[str, Any], evaluate: Evaluate, locale: str, prefix: str = ""
) -> list[FieldError]:
    """Fill fields the writer left out (a new record, or a child row sent anew)."""
    errors = []
    for name, field in entity_fields.items():
        if name in record or field.compute is not None:
            continue
        try:
            if field.default is not None:
                record[name] = field.kind.coerce(evaluate(field.default, record), field.spec)
            elif field.default_value is not None:
                record[name] = field.kind.coerce(field.default_value, field.spec)
            elif field.children:
                record[name] = []
        except (RuleError, FieldValueError) as exc:
            errors.append(_rule_failed(f"{prefix}{name}", field, locale, exc))
    return errors


def prepare_rows(
    entity: CompiledEntity, record: dict[str, Any], evaluate: Any, locale: str, given: set[str] | None
) -> list[FieldError]:
    """Defaults and computed values of the child rows being written (all on creation, else those sent)."""
    errors: list[FieldError] = []
    for table in entity.child_fields:
        if given is not None and table.name not in given:
            continue  # stored rows are kept as they are
        rows_evaluate = evaluate.for_rows(table.name, record)
        for i, row in enumerate(record.get(table.name) or []):
            prefix = f"{table.name}.{i}."
            errors += apply_defaults(table.children, row, rows_evaluate, locale, prefix)
            errors += apply_computed(table.children, row, rows_evaluate, locale, prefix)
    return errors


def apply_computed(
    entity_fields: dict[str, CompiledField], record: dict[str, Any], evaluate: Evaluate, locale: str, prefix: str = ""
) -> list[FieldError]:
    """Recompute every computed field from the record as it will be stored."""
    errors = []
    for name, field in entity_fields.items():
        if field.compute is None:
            continue
        try:
            value = evaluate(field.compute, record)
            record[name] = None if value is None else field.kind.coerce(value, field.spec)
        except (RuleError, FieldValueError) as exc:
            errors.append(_rule_failed(f"{prefix}{name}", field, locale, exc))
    return errors


def check_fields(
    entity_fields: dict[str, CompiledField], record: dict[str, Any], evaluate: Evaluate, locale: str, prefix: str = ""
) -> list[FieldError]:
    """Required, limits and type rules of each field (children included)."""
    errors: list[FieldError] = []
    for name, field in entity_fields.items():
        value: Any = record.get(name)
        if field.kind.is_empty(value):
            if _required(field, record, evaluate) and field.compute is None and _visible(field, record, evaluate):
                errors.append(_error(f"{prefix}{name}", "required", locale))
            continue
        if field.children:
            rows_evaluate = evaluate.for_rows(name, record)
            for i, row in enumerate(value):
                errors.extend(check_fields(field.children, row, rows_evaluate, locale, prefix=f"{prefix}{name}.{i}."))
            continue
        try:
            if field.has_limits:
                field.kind.validate(
                    value, field.spec, field.limit("min", record, evaluate), field.limit("max", record, evaluate)
                )
            else:
                field.kind.validate(value, field.spec)
        except FieldValueError as exc:
            errors.append(_error(f"{prefix}{name}", exc.code, locale, **exc.params))
        except RuleError as exc:
            errors.append(_rule_failed(f"{prefix}{name}", field, locale, exc))
    return errors


def drop_required_unwritable(errors: list[FieldError], grant: Grant) -> list[FieldError]:
    """On an update, `required` binds only the fields the actor may write.

    A stored record can lack a required value (the field was added or made required
    later, or is kept by another role); refusing every save of it to a role that could
    never fill the field would lock that role out of the record.
    """
    return [e for e in errors if e.code != "required" or e.field.split(".")[0] in grant.writable]


def _required(field: CompiledField, record: dict[str, Any], evaluate: Evaluate) -> bool:
    """`required`, or a `required_if` (its own or its section's) true for the record as it will be stored.

    An unevaluable condition binds.
    """
    if field.spec.required:
        return True
    conditions = [(field.required_if, None)] if field.required_if is not None else []
    for condition, shown in conditions + field.section_required_if:
        try:
            if evaluate(condition, record) and (shown is None or evaluate(shown, record)):
                return True
        except RuleError:
            return True
    return False


def read_only_now(
    entity: CompiledEntity,
    typed: Mapping[str, Any],
    record: dict[str, Any],
    stored: Mapping[str, Any],
    evaluate: Evaluate,
    locale: str,
) -> list[FieldError]:
    """Changes to fields whose `readonly_if` (their own or their form section's) holds for the record as it will be.

    Judged on the resulting record, so a writer cannot set the field and flip the
    condition in the same request to slip past it; a value sent back unchanged is fine.
    """
    errors: list[FieldError] = []
    for name in typed:
        field = entity.fields.get(name)
        if field is None or not field.lock_conditions:
            continue
        before, after = stored.get(name), typed[name]
        if after == before or (field.kind.is_empty(after) and field.kind.is_empty(before)):
            continue
        try:
            holding = next((c for c in field.lock_conditions if evaluate(c, record)), None)
        except RuleError as exc:
            errors.append(_rule_failed(name, field, locale, exc))
            continue
        if holding is not None:
            because = ", ".join(
                localized(entity.fields[n].spec.label, locale, n) for n in sorted(holding.names) if n in entity.fields
            )
            errors.append(_error(name, "read_only_if", locale, fields=because or holding.source))
    return errors


def _visible(field: CompiledField, record: dict[str, Any], evaluate: Evaluate) -> bool:
    """A field hidden by `visible_if` is not required."""
    if field.visible_if is None:
        return True
    try:
        return bool(evaluate(field.visible_if, record))
    except RuleError:
        return True


def check_rules(entity: CompiledEntity, record: dict[str, Any], evaluate: Evaluate, locale: str) -> list[FieldError]:
    """The entity's record-level validations; each failing rule's message goes beside its fields."""
    errors: list[FieldError] = []
    for validation in entity.validations:
        try:
            ok = evaluate(validation.rule, record)
        except RuleError as exc:
            _log_rule_failure(f"{entity.name} validation {validation.rule.source!r}", exc)
            text = localized(validation.message, locale, validation.rule.source)
            errors += [FieldError(target, "rule_failed", text) for target in validation.fields or ["__all__"]]
            continue
        if not ok:
            text = localized(validation.message, locale, validation.rule.source)
            for target in validation.fields or ["__all__"]:
                errors.append(FieldError(target, "rule", text))
    return errors


def not_writable(entity: CompiledEntity, grant: Grant, typed: dict, locale: str) -> list[FieldError]:
    """Input for fields the role may not write (checked after coercion, so unknown fields come first)."""
    return [
        FieldError(name, "not_writable", message("not_writable", locale))
        for name in typed
        if name not in grant.writable
    ]


def drop_unchanged_masks(
    entity: CompiledEntity, grant: Grant, values: Mapping[str, Any], stored: dict[str, Any]
) -> dict[str, Any]:
    """A masked value sent back unchanged (an edit form) means "keep the stored value"."""
    if grant.full_access:
        return dict(values)
    kept = {}
    for name, value in values.items():
        field = entity.fields.get(name) if isinstance(name, str) else None
        if (
            field is not None
            and field.spec.sensitive
            and stored.get(name) is not None
            and value == field.kind.mask(stored[name], field.spec)
        ):
            continue
        kept[name] = value
    return kept
