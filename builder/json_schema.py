"""The published JSON Schema of the blueprint language (`crm schema`).

Built from the same pydantic models the loader validates with, so the schema and
the loader cannot drift, then enriched for editors: field types as an enum, each
type's own rules, names patterns, descriptions. It describes the *merged*
document; `$defs` also holds one schema per section for split blueprints
(`entities/patient.yaml` holds `patient: {...}`, i.e. an EntitiesSection).
The loader still checks meaning (links, expressions, roles) that a schema cannot.
"""

from __future__ import annotations

from typing import Any

from engines.forms.schema import NAME_PATTERN, enrich_forms_schema
from engines.rules import DecisionTableSpec

from .blueprint import SUPPORTED_LOCALES, UNSUPPORTED_SECTIONS, Blueprint

SCHEMA_ID = "https://clinic-crm.example/schemas/blueprint.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

LOCALIZED_TEXT = {
    "description": "A text for every locale ({en: Name, zh-CN: 姓名}), or one text for all.",
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "propertyNames": {"enum": list(SUPPORTED_LOCALES)},
            "additionalProperties": {"type": "string"},
            "minProperties": 1,
        },
    ],
}
SECTION_DESCRIPTIONS = {
    "app": "The CRM's name, title, languages (the first is the default) and time zone.",
    "roles": "The roles users are given; what each may do is declared per entity under `permissions`.",
    "entities": "The kinds of records (patient, visit...), each with its fields, validations and permissions.",
    "forms": "Screens for editing an entity; an entity without a form gets a default one.",
    "decision_tables": "Tables of rules used from expressions with decide('name').",
    "workflows": "State machines over an entity's `state` field: states, transitions, who may make them.",
    "automations": "What happens when records change, at a moment, on a schedule or on a button: actions.",
    "notifications": "Message templates per channel and locale, sent by automations' `notify` actions.",
    "reports": "Questions about one entity's records: dimensions, measures, filters, parameters; compiled to SQL.",
    "dashboards": "Pages of report cards (charts, KPIs) for some roles.",
}
APP_DESCRIPTIONS = {
    "name": "A short identifier (lower-case letters, digits and _).",
    "title": "The CRM's title, per locale.",
    "locales": "The interface languages; the first one is the default.",
    "timezone": "The clinic's IANA time zone (Asia/Shanghai); dates and times are local to it.",
}


def _is_localized_text(schema: Any) -> bool:
    """pydantic's rendering of LocalizedText: a string, or a mapping of strings (maybe with null)."""
    if not isinstance(schema, dict) or "anyOf" not in schema:
        return False
    kinds = [s for s in schema["anyOf"] if s != {"type": "null"}]
    return kinds == [{"type": "string"}, {"additionalProperties": {"type": "string"}, "type": "object"}]


def _use_localized_text(node: Any) -> Any:
    """Replace every inline LocalizedText with a $ref to the shared definition (keeping null if allowed)."""
    if isinstance(node, list):
        return [_use_localized_text(item) for item in node]
    if not isinstance(node, dict):
        return node
    if _is_localized_text(node):
        ref: dict[str, Any] = {"$ref": "#/$defs/LocalizedText"}
        nullable = {"type": "null"} in node["anyOf"]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return {**rest, "anyOf": [ref, {"type": "null"}]} if nullable else {**rest, **ref}
    return {key: _use_localized_text(value) for key, value in node.items()}


def _decision_tables(defs: dict[str, Any]) -> dict[str, Any]:
    table = DecisionTableSpec.model_json_schema(ref_template="#/$defs/{model}")
    defs.update(table.pop("$defs", {}))
    defs["DecisionTableSpec"] = table
    return {
        "type": "object",
        "propertyNames": {"pattern": NAME_PATTERN},
        "additionalProperties": {"$ref": "#/$defs/DecisionTableSpec"},
    }


def _section_defs(properties: dict[str, Any]) -> dict[str, Any]:
    """One schema per mapping section, for the files of a split blueprint."""
    names = {
        "entities": "EntitiesSection",
        "forms": "FormsSection",
        "decision_tables": "DecisionTablesSection",
        "roles": "RolesSection",
        "workflows": "WorkflowsSection",
        "automations": "AutomationsSection",
        "notifications": "NotificationsSection",
        "reports": "ReportsSection",
        "dashboards": "DashboardsSection",
    }
    return {names[key]: {k: v for k, v in properties[key].items() if k not in ("default", "title")} for key in names}


def blueprint_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a whole, merged blueprint."""
    raw = Blueprint.model_json_schema(ref_template="#/$defs/{model}")
    defs: dict[str, Any] = raw.pop("$defs")
    enrich_forms_schema(defs)
    properties = raw["properties"]
    properties["decision_tables"] = _decision_tables(defs)
    for key in ("roles", "entities", "forms", "workflows", "automations", "notifications", "reports", "dashboards"):
        properties[key]["propertyNames"] = {"pattern": NAME_PATTERN}
    for key, text in SECTION_DESCRIPTIONS.items():
        properties[key]["description"] = text
    for key, text in APP_DESCRIPTIONS.items():
        defs["AppSpec"]["properties"][key]["description"] = text
    defs["AppSpec"]["properties"]["locales"]["items"] = {"enum": list(SUPPORTED_LOCALES)}
    defs.update(_section_defs(properties))
    defs["LocalizedText"] = LOCALIZED_TEXT
    schema = {
        "$schema": DIALECT,
        "$id": SCHEMA_ID,
        "title": "Clinic CRM blueprint",
        "description": "A clinic CRM described as data: app, roles, entities, forms, decision tables, "
        "workflows, automations, notifications, reports and dashboards."
        + (f" Not supported yet (refused): {', '.join(UNSUPPORTED_SECTIONS)}." if UNSUPPORTED_SECTIONS else ""),
        "type": "object",
        "required": raw.get("required", ["app"]),
        "properties": properties,
        "additionalProperties": False,
        "$defs": defs,
    }
    return _use_localized_text(schema)
