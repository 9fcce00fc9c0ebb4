"""The published blueprint JSON Schema: valid itself, accepts real blueprints, refuses structural mistakes."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from builder.json_schema import blueprint_json_schema
from builder.source import load_source
from engines.forms import FIELD_TYPES

ROOT = Path(__file__).resolve().parents[2]
SKETCH = Path("/work/shared/design/blueprint-sketch.yaml")
SCHEMA = blueprint_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

MINIMAL = {
    "app": {"name": "demo"},
    "entities": {"patient": {"fields": {"name": {"type": "text"}}}},
}


def as_json(document):
    """What an editor validates: YAML dates and times are plain ISO text there."""
    return json.loads(json.dumps(document, default=lambda value: value.isoformat()))


def errors(document) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(as_json(document))]


def with_field(**spec) -> dict:
    document = copy.deepcopy(MINIMAL)
    document["entities"]["patient"]["fields"]["x"] = spec
    return document


def test_the_schema_is_valid_draft_2020_12():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert SCHEMA["$id"] and SCHEMA["title"]


def test_the_schema_is_plain_json():
    assert json.loads(json.dumps(SCHEMA, ensure_ascii=False)) == SCHEMA


def test_field_type_is_an_enum_of_registered_types():
    assert SCHEMA["$defs"]["FieldSpec"]["properties"]["type"]["enum"] == sorted(FIELD_TYPES)


def test_every_field_option_is_described():
    for name, prop in SCHEMA["$defs"]["FieldSpec"]["properties"].items():
        assert prop.get("description"), name


def test_accepts_the_clinic_template():
    assert errors(load_source(ROOT / "blueprints" / "clinic").data) == []


@pytest.mark.skipif(not SKETCH.exists(), reason="the design sketch is not available")
def test_accepts_the_supported_parts_of_the_sketch():
    sketch = yaml.safe_load(SKETCH.read_text(encoding="utf-8"))
    supported = {key: sketch[key] for key in ("app", "roles", "entities", "forms")}
    assert errors(supported) == []


def test_accepts_a_minimal_blueprint():
    assert errors(MINIMAL) == []


@pytest.mark.parametrize(
    "document",
    [
        with_field(type="txt"),  # unknown field type
        with_field(type="text", requird=True),  # unknown key in a field
        {"app": {"name": "demo"}, "entities": {"patient": {"title": "Patient"}}},  # missing fields
        with_field(type="select"),  # select without options
        with_field(type="link"),  # link without to
        with_field(type="text", required="yes"),  # wrong type for required
        with_field(type="integer", options=["a"]),  # an option the type does not take
        with_field(type="text", to="patient"),
        with_field(type="state"),  # neither options nor workflow
        with_field(type="text", label={"fr": "Nom"}),  # unknown locale
        {**MINIMAL, "workflows": {"flow": {}}},  # a workflow without entity, initial, states
        {**MINIMAL, "automations": {"a": {"entity": "patient", "on": "created", "do": []}}},  # `on`, no actions
        {**MINIMAL, "reports": {"r": {"source": "patient"}}},  # a report without measures
        {**MINIMAL, "reports": {"r": {"source": "patient", "measures": {}}}},  # ... or with none
        {**MINIMAL, "reports": {"r": {"kind": "cohort", "source": "patient"}}},  # a cohort without `cohort:`
        {"entities": MINIMAL["entities"]},  # no app
        {**MINIMAL, "entities": {"Patient": {"fields": {"name": {"type": "text"}}}}},  # bad entity name
        {**MINIMAL, "decision_tables": {"t": {"inputs": ["a"], "rows": [{"when": ["-"], "then": 1}], "hitt": 1}}},
    ],
)
def test_rejects_structural_mistakes(document):
    assert errors(document)


def test_per_type_rules_accept_what_the_type_takes():
    assert errors(with_field(type="decimal", precision=4, scale=1, unit="mmol/L")) == []
    assert errors(with_field(type="state", workflow="flow")) == []
    assert errors(with_field(type="table", fields={"drug": {"type": "text"}})) == []
    assert errors(with_field(type="table", fields={"drug": {"type": "txt"}}))


def test_section_schemas_for_split_files():
    entities = {"$ref": "#/$defs/EntitiesSection", "$defs": SCHEMA["$defs"]}
    validator = jsonschema.Draft202012Validator(entities)
    assert not list(validator.iter_errors({"patient": {"fields": {"name": {"type": "text"}}}}))
    assert list(validator.iter_errors({"patient": {"fields": {"name": {"type": "txt"}}}}))


def test_flow_sections_for_split_files():
    flows = {"$ref": "#/$defs/WorkflowsSection", "$defs": SCHEMA["$defs"]}
    validator = jsonschema.Draft202012Validator(flows)
    flow = {
        "entity": "task",
        "initial": "open",
        "states": {"open": {"color": "blue"}, "done": {"final": True}},
        "transitions": {"close": {"from": ["open"], "to": "done", "if": "true"}},
    }
    assert not list(validator.iter_errors({"task_flow": flow}))
    assert list(validator.iter_errors({"task_flow": {**flow, "states": {"open": {"color": "pink"}}}}))
