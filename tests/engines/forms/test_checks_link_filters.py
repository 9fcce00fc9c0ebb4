"""Meaning checks of a link's `filter:` and of sections' `required_if`/`readonly_if`, and where validate puts them."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BlueprintError
from builder.loading import load_blueprint
from engines.forms import EntitySpec, FormSpec, check_entities_and_forms

HEAD = "app: {name: demo}\nroles:\n  doctor: {}\n"
STAFF = (
    "entities:\n  staff:\n    fields:\n      name: {type: text}\n"
    "      department: {type: select, options: [a, b]}\n      secret: {type: text, encrypted: true}\n"
)


def rendered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> list[str]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bp.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(Path("bp.yaml"))
    return [str(problem) for problem in caught.value.problems]


def visit(*doctor_lines: str) -> str:
    return (
        HEAD
        + STAFF
        + "  visit:\n    fields:\n      department: {type: select, options: [a, b]}\n"
        + "".join(doctor_lines)
    )


def test_a_target_field_that_does_not_exist_is_named_at_its_column(tmp_path, monkeypatch):
    text = visit('      doctor: {type: link, to: staff, filter: "departmnt == record.department"}\n')
    assert rendered(tmp_path, monkeypatch, text) == [
        "bp.yaml:13:48: unknown name `departmnt` (did you mean `department`?) [expression.unknown_name]"
    ]


def test_a_record_field_that_does_not_exist_is_named_at_its_column(tmp_path, monkeypatch):
    text = visit('      doctor: {type: link, to: staff, filter: "department == record.dept"}\n')
    assert rendered(tmp_path, monkeypatch, text) == [
        "bp.yaml:13:62: `record` has no field `dept` [expression.unknown_name]"
    ]


def test_what_sql_cannot_express_is_refused(tmp_path, monkeypatch):
    text = visit(
        '      doctor: {type: link, to: staff, filter: "department == record.doctor.department"}\n'
        '      other: {type: link, to: staff, filter: "len(name) > 3"}\n'
    )
    found = rendered(tmp_path, monkeypatch, text)
    assert found[0].startswith("bp.yaml:13:62: `record.doctor.department` cannot be used in a link filter")
    assert found[0].endswith("[field.filter_unsupported]")
    assert found[1].startswith("bp.yaml:14:38: `len(name)` cannot be used in a link filter")


def test_an_encrypted_target_field_a_table_link_and_a_non_link_are_refused(tmp_path, monkeypatch):
    text = visit(
        "      doctor: {type: link, to: staff, filter: \"secret == 'x'\"}\n"
        "      rows:\n        type: table\n        fields:\n"
        "          who: {type: link, to: staff, filter: \"department == 'a'\"}\n"
        "      note: {type: text, filter: \"name == 'x'\"}\n"
    )
    codes = [line.rsplit("[", 1)[1].rstrip("]") for line in rendered(tmp_path, monkeypatch, text)]
    assert codes == ["field.filter_field", "field.filter_in_table", "field.option_not_allowed"]


def test_a_valid_filter_and_section_conditions_load():
    entities = {
        "staff": EntitySpec.model_validate(
            {"fields": {"department": {"type": "select", "options": ["a"]}, "user": {"type": "user"}}}
        ),
        "visit": EntitySpec.model_validate(
            {
                "fields": {
                    "department": {"type": "select", "options": ["a"]},
                    "status": {"type": "select", "options": ["open", "closed"]},
                    "doctor": {
                        "type": "link",
                        "to": "staff",
                        "filter": "(record.department == null or department == record.department)"
                        " and user != null and user.id == user.id",
                    },
                }
            }
        ),
    }
    form = FormSpec.model_validate(
        {
            "entity": "visit",
            "layout": [
                {
                    "section": "A",
                    "required_if": "status == 'closed'",
                    "readonly_if": "user.role == 'admin'",
                    "fields": [],
                }
            ],
        }
    )
    found = list(check_entities_and_forms(entities, {"f": form}, {"admin"}, set(), locales={"en"}))
    assert found == []


def test_section_conditions_name_real_fields(tmp_path, monkeypatch):
    text = (
        HEAD + "entities:\n  patient:\n    fields:\n      name: {type: text}\n"
        "forms:\n  intake:\n    entity: patient\n    layout:\n"
        '      - section: Basics\n        required_if: "nme == \'x\'"\n        readonly_if: "user.rol == 1"\n'
        "        fields: [name]\n"
    )
    found = rendered(tmp_path, monkeypatch, text)
    assert found[0] == "bp.yaml:13:23: unknown name `nme` (did you mean `name`?) [expression.unknown_name]"
    assert found[1].startswith("bp.yaml:14:23: ") and "rol" in found[1]
