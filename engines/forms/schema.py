"""The forms engine's part of the published blueprint JSON Schema.

Pydantic gives the shape of the models; this adds what an editor needs to help a
clinic admin: the registered field types as an enum, each type's own rules (its
`spec_schema()`, and no options it does not take), name patterns for the mapping
keys, and a description of every option.
"""

from __future__ import annotations

from typing import Any

from .fieldtypes import FIELD_TYPES

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
# Options only some field types take (see FieldType.options_allowed).
TYPE_OPTIONS = (
    "options",
    "option_labels",
    "to",
    "filter",
    "fields",
    "max_rows",
    "precision",
    "scale",
    "unit",
    "workflow",
    "region",
)

DESCRIPTIONS: dict[str, dict[str, str]] = {
    "EntitySpec": {
        "title": "The entity's name as people read it, per locale.",
        "title_field": "The field shown as a record's name in lists, links and search results.",
        "search": "Fields the quick search looks in (stored, non-encrypted text, select or state fields).",
        "renamed_from": "The entity's previous name, so the migration renames its table instead of dropping it.",
        "fields": "The entity's fields, by name (lower-case letters, digits and _).",
        "validations": "Record-level rules; the record is refused when a rule is false.",
        "permissions": "What each role may do; a role not listed may do nothing (least privilege).",
        "tasks": 'Its records are tasks on "My tasks" while in these workflow states; `{}` infers every key.',
    },
    "TasksSpec": {
        "assignee": "Whose task: a `user` field or a link to a staff-like entity; `false`: the roles that may move it.",
        "due": "A date or datetime field: overdue tasks first, then by it. Default: the first such field.",
        "states": "The workflow states in which a record is a task. Default: the states that are not final.",
    },
    "FieldSpec": {
        "type": "The field type; it decides the column, the input widget, validation and display.",
        "label": "The field's label on forms and lists, per locale ({en: Name, zh-CN: 姓名}) or one text.",
        "help": "A hint shown under the input, per locale.",
        "required": "A value must be given (ignored while the field is hidden by visible_if).",
        "unique": "No two records may hold the same value (not for table, multi_select, long_text, boolean).",
        "default": 'The value of a new record: a literal, or an expression such as "today()".',
        "min": 'Smallest allowed value: a number, or for dates a date or an expression such as "today()".',
        "max": 'Largest allowed value: a number, or for dates a date or an expression such as "today()".',
        "max_length": "Longest allowed text, in characters (text, long_text, phone, email).",
        "compute": "An expression the value is computed from on every save; the field is read-only.",
        "visible_if": "An expression; the field is shown (and required) only while it is true.",
        "required_if": "An expression; while it is true the field is required (as with `required`).",
        "readonly_if": "An expression; while it is true a change to the field is refused.",
        "sensitive": "Masked (138****5678) for roles without full access.",
        "phi": "Protected health information: reads are audited, values kept out of the audit trail.",
        "encrypted": "Stored encrypted, with a keyed hash for exact matches (text-like types only).",
        "searchable": "Include the field in the quick search (same as listing it under the entity's search).",
        "last4_search": (
            "An encrypted phone: keep a keyed hash of its last 4 digits, so roles with full access find it by them."
        ),
        "index": "Create a database index on the column (report time fields and date ranges get one anyway).",
        "renamed_from": "The field's previous name, so the migration renames its column instead of dropping it.",
        "options": "The allowed values (select, multi_select, state), at most 64 characters each.",
        "option_labels": "How each option is shown, per locale.",
        "to": "The entity a link points at.",
        "filter": 'Link: which records may be chosen, e.g. "department == record.department" (`record`: this form).',
        "fields": "The columns of a child table (a table field cannot hold another table).",
        "max_rows": "Table: the most child rows one record may have (default 500).",
        "precision": "Decimal: total number of digits (default 12).",
        "scale": "Decimal: digits after the point (default 2).",
        "unit": "Decimal: the unit shown after the value (mmol/L).",
        "workflow": "State: the workflow driving this field (give options too until workflows are supported).",
        "region": "Phone: the ISO 3166 region whose mobile and landline numbers are accepted (default CN).",
        "examples": "Values the computed expression is tested against when the blueprint loads.",
    },
    "ValidationSpec": {
        "rule": "An expression that must be true for the record to be saved.",
        "message": "What the user reads when the rule is false, per locale.",
        "fields": "The fields the message is shown beside.",
        "examples": "Records the rule is tested against when the blueprint loads.",
    },
    "PermissionSpec": {
        "read": "The fields this role can see: `all` or a list.",
        "write": "The fields this role can change: `all` or a list (each also readable).",
        "create": "May create records.",
        "delete": "May delete records.",
        "export": "May export records.",
        "report": "May see aggregate reports over this entity.",
        "where": 'A row filter: the role sees only records for which it is true ("doctor.user == user.id").',
        "full_access": "Sees sensitive values unmasked (default: only roles that read and write all).",
    },
    "FormSpec": {
        "entity": "The entity the form edits.",
        "title": "The form's title, per locale.",
        "layout": "The form's sections, in order.",
    },
    "SectionSpec": {
        "section": "The section's title, per locale.",
        "columns": "How many columns the section's fields are laid out in (1 to 4).",
        "fields": "The fields of the section, in order; each field appears once per form.",
        "visible_if": "An expression; the section is shown only while it is true (it may read `user`).",
        "required_if": "An expression; while it is true every field of the section is required.",
        "readonly_if": "An expression; while it is true no field of the section may be changed.",
    },
}


def _describe(defs: dict[str, Any]) -> None:
    for model, texts in DESCRIPTIONS.items():
        properties = defs.get(model, {}).get("properties", {})
        for name, text in texts.items():
            if name in properties:
                properties[name]["description"] = text


def field_type_rules() -> list[dict[str, Any]]:
    """One if/then per registered type: its own schema, and its foreign options refused."""
    rules = []
    for name, kind in sorted(FIELD_TYPES.items()):
        then: dict[str, Any] = dict(kind.spec_schema())
        refused = {option: False for option in TYPE_OPTIONS if option not in kind.options_allowed}
        if refused:
            then["properties"] = {**then.get("properties", {}), **refused}
        rules.append({"if": {"properties": {"type": {"const": name}}, "required": ["type"]}, "then": then})
    return rules


def enrich_forms_schema(defs: dict[str, Any]) -> None:
    """Add types, per-type rules, name patterns and descriptions to the forms models' definitions (in place)."""
    _describe(defs)
    field = defs["FieldSpec"]
    field["properties"]["type"]["enum"] = sorted(FIELD_TYPES)
    field["allOf"] = field_type_rules()
    entity = defs["EntitySpec"]
    entity["properties"]["fields"]["propertyNames"] = {"pattern": NAME_PATTERN}
    entity["properties"]["fields"]["minProperties"] = 1
