"""What a clinic admin reads when a blueprint is wrong: the exact file:line:column, message and hint.

Each case loads a broken blueprint with `load_blueprint` and compares the whole
rendered problem (`file:line:col: message (hint) [code]`). Small cases are written
to tmp_path with exact text; larger ones live in tests/blueprints/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BlueprintError
from builder.loading import load_blueprint

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "blueprints"

HEAD = "app: {name: demo}\nroles:\n  doctor: {}\n  nurse: {}\n"


def problems_of(path: Path | str) -> list[str]:
    """Every problem of the blueprint at `path`, rendered as the CLI prints it."""
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(path)
    return [str(problem) for problem in caught.value.problems]


@pytest.fixture
def write(tmp_path, monkeypatch):
    """Write `text` to `name` under tmp_path (the working directory, so paths print short)."""
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "bp.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return Path(name)

    return write


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_unclosed_bracket(write):
    path = write(HEAD + "entities:\n  patient:\n    fields:\n      name: {type: text\n")
    assert problems_of(path) == [
        "bp.yaml:9:1: invalid YAML: expected ',' or '}', but got the end of the file "
        "(the `{` at line 8, column 13 is not closed) [yaml.syntax]"
    ]


def test_bad_indentation(write):
    path = write("app:\n  name: demo\n entities: {}\n")
    assert problems_of(path) == [
        "bp.yaml:3:2: invalid YAML: bad indentation: this line is not lined up with the keys around it "
        "(the mapping it belongs to starts at line 1, column 1) [yaml.syntax]"
    ]


def test_tab_indentation(write):
    path = write("app:\n\tname: demo\n")
    assert problems_of(path) == ["bp.yaml:2:1: invalid YAML: a tab cannot indent YAML; use spaces [yaml.syntax]"]


def test_unknown_field_type(write):
    path = write(HEAD + "entities:\n  patient:\n    fields:\n      name: {type: txt}\n")
    assert problems_of(path) == ["bp.yaml:8:14: unknown field type `txt` (did you mean `text`?) [field.unknown_type]"]


def test_dangling_link(write):
    """Problems about a value point at its key (`to`); only expression problems point inside the text."""
    path = write(
        HEAD + "entities:\n  staff:\n    fields:\n      name: {type: text}\n"
        "  visit:\n    fields:\n      doctor: {type: link, to: staf}\n"
    )
    assert problems_of(path) == [
        "bp.yaml:11:28: link to unknown entity `staf` (did you mean `staff`?) [field.unknown_entity]"
    ]


def test_unknown_role_in_permissions(write):
    path = write(
        HEAD + "entities:\n  patient:\n    fields:\n      name: {type: text}\n"
        "    permissions:\n      doctr: {read: all}\n"
    )
    assert problems_of(path) == [
        "bp.yaml:10:7: unknown role `doctr` (did you mean `doctor`?) [permission.unknown_role]"
    ]


def test_expression_syntax_error_points_inside_the_expression(write):
    path = write(
        HEAD + "entities:\n  patient:\n    fields:\n      birth_date: {type: date}\n"
        '      age: {type: integer, compute: "years_between(birth_date today())"}\n'
    )
    # Python points at the start of `birth_date today()`, the part that needs a comma
    assert problems_of(path) == [
        "bp.yaml:9:52: two values stand side by side here: put a comma or an operator between them [expression.syntax]"
    ]


def test_unknown_name_in_expression(write):
    path = write(
        HEAD + "entities:\n  patient:\n    fields:\n      birth_date: {type: date}\n"
        '      age: {type: integer, compute: "years_between(birth_dat, today())"}\n'
    )
    assert problems_of(path) == [
        "bp.yaml:9:52: unknown name `birth_dat` (did you mean `birth_date`?) [expression.unknown_name]"
    ]


def test_expression_in_a_plain_scalar_and_at_column_zero(write):
    path = write(
        HEAD + "entities:\n  patient:\n    fields:\n      name: {type: text}\n"
        "      nick: {type: text, visible_if: nme != ''}\n"
    )
    assert problems_of(path) == ["bp.yaml:9:38: unknown name `nme` (did you mean `name`?) [expression.unknown_name]"]


def test_unknown_field_in_form_layout(write):
    path = write(
        HEAD + "entities:\n  patient:\n    fields:\n      name: {type: text}\n"
        "forms:\n  intake:\n    entity: patient\n    layout:\n"
        "      - section: Basics\n        fields: [name, phnoe]\n"
    )
    assert problems_of(path) == [
        "bp.yaml:14:24: unknown field `phnoe` in entity `patient` (known fields: name) [form.unknown_field]"
    ]


def test_split_blueprint_error_in_second_file(at_root):
    assert problems_of("tests/blueprints/split_error") == [
        "tests/blueprints/split_error/entities/visit.yaml:4:26: link to unknown entity `staf` "
        "(known entities: patient, visit) [field.unknown_entity]"
    ]


def test_split_blueprint_error_in_an_entity_file_written_bare(write):
    write("app: {name: demo}\n", "bp/app.yaml")
    write("patient:\n  fields:\n    name: {type: text, requird: true}\n", "bp/entities/patient.yaml")
    assert problems_of("bp") == [
        "bp/entities/patient.yaml:3:24: unknown key `requird` (did you mean `required`?) [blueprint.unknown_key]"
    ]


def test_hidden_files_and_folders_of_a_blueprint_directory_are_not_read(write):
    """blueprints.md: every .yaml/.yml/.json file is read, in name order; hidden files and folders are skipped."""
    write("app: {name: demo}\n", "bp/app.yaml")
    write("patient:\n  fields:\n    name: {type: text}\n", "bp/entities/patient.yaml")
    write("visit:\n  fields:\n    patient: {type: link, to: patient}\n", "bp/entities/visit.yml")
    write("patient: {fields: {name: {type: phone}}}\n", "bp/entities/.patient.yaml")  # an editor's copy
    write("app: {name: [broken\n", "bp/.drafts/app.yaml")  # a hidden folder, not even parsed
    write('{"entities": {"patient": {"fields": {}}}}', "bp/.git/old.json")
    loaded = load_blueprint("bp")
    assert sorted(loaded.blueprint.entities) == ["patient", "visit"]
    assert loaded.blueprint.entities["patient"].fields["name"].type == "text"


def test_unknown_key(write):
    path = write(HEAD + "entities:\n  patient:\n    fields:\n      name:\n        type: text\n        requird: true\n")
    assert problems_of(path) == [
        "bp.yaml:10:9: unknown key `requird` (did you mean `required`?) [blueprint.unknown_key]"
    ]


def test_duplicate_key(write):
    path = write(HEAD + "entities:\n  patient:\n    fields:\n      name: {type: text}\n      name: {type: phone}\n")
    assert problems_of(path) == ["bp.yaml:9:7: `name` is defined twice here [yaml.duplicate_key]"]


def test_duplicate_entity_across_files(write):
    write("app: {name: demo}\nentities:\n  patient: {fields: {name: {type: text}}}\n", "bp/app.yaml")
    write("patient:\n  fields:\n    name: {type: text}\n", "bp/entities/patient.yaml")
    assert problems_of("bp") == [
        "bp/entities/patient.yaml:1:1: `entities.patient` is already defined at bp/app.yaml:3:3 [blueprint.duplicate]"
    ]


def test_report_problems_are_located(write):
    path = write(
        HEAD
        + "entities:\n  patient:\n    fields:\n      name: {type: text}\nreports:\n"
        + "  names: {source: patient, measures: {total: {agg: sum, field: name}}}\n"
    )
    assert problems_of(path) == ["bp.yaml:10:57: `sum` needs a number; `name` is a `text` field [report.wrong_type]"]


def test_wrong_type_for_a_flag_and_a_union(write):
    path = write(HEAD + "entities:\n  patient:\n    fields:\n      name: {type: text, required: maybe, label: 5}\n")
    assert problems_of(path) == [
        "bp.yaml:8:26: `required` must be true or false [blueprint.wrong_type]",
        "bp.yaml:8:43: `label` must be a text or a mapping of locale to text [blueprint.wrong_type]",
    ]


def test_missing_fields(write):
    path = write(HEAD + "entities:\n  patient:\n    title: Patient\n")
    assert problems_of(path) == ["bp.yaml:6:3: `fields` is required here [blueprint.missing_key]"]


def test_all_problems_are_reported_at_once(at_root):
    assert problems_of("tests/blueprints/three_errors.yaml") == [
        "tests/blueprints/three_errors.yaml:8:14: unknown field type `txt` (did you mean `text`?) [field.unknown_type]",
        "tests/blueprints/three_errors.yaml:9:52: unknown name `birth_dat` (did you mean `birth_date`?) "
        "[expression.unknown_name]",
        "tests/blueprints/three_errors.yaml:12:7: unknown role `doctr` (did you mean `doctor`?) "
        "[permission.unknown_role]",
    ]


def test_json_positions(at_root):
    assert problems_of("tests/blueprints/json/patient.json") == [
        "tests/blueprints/json/patient.json:7:18: unknown field type `txt` (did you mean `text`?) [field.unknown_type]",
        "tests/blueprints/json/patient.json:9:62: unknown name `birth_dat` (did you mean `birth_date`?) "
        "[expression.unknown_name]",
        "tests/blueprints/json/patient.json:12:9: unknown role `doctr` (did you mean `doctor`?) "
        "[permission.unknown_role]",
    ]


def test_json_unknown_key(at_root):
    assert problems_of("tests/blueprints/json/unknown_key.json") == [
        "tests/blueprints/json/unknown_key.json:4:53: unknown key `requird` (did you mean `required`?) "
        "[blueprint.unknown_key]"
    ]


def test_broken_json(at_root):
    assert problems_of("tests/blueprints/json/broken.json") == [
        "tests/blueprints/json/broken.json:7:1: invalid JSON: expected ',' or '}', but got the end of the file "
        "(the `{` at line 1, column 1 is not closed) [yaml.syntax]"
    ]


def test_problems_carry_their_blueprint_path(write):
    path = write(HEAD + "entities:\n  patient:\n    fields:\n      name: {type: txt}\n")
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(path)
    assert caught.value.problems[0].path == "entities.patient.fields.name.type"


def test_the_clinic_template_loads_without_problems(at_root):
    loaded = load_blueprint("blueprints/clinic")
    assert set(loaded.blueprint.entities) == {
        "patient",
        "staff",
        "appointment",
        "visit",
        "follow_up",
        "vital_reading",
        "satisfaction",
    }


def test_unknown_phone_region_and_region_on_another_type(write):
    path = write(
        HEAD + "entities:\n  patient:\n    fields:\n      phone: {type: phone, region: XX}\n"
        "      hk: {type: phone, region: HK}\n      name: {type: text, region: CN}\n"
    )
    assert problems_of(path) == [
        "bp.yaml:8:28: unknown phone region `XX` (an ISO 3166 code such as CN or HK) [field.unknown_region]",
        "bp.yaml:10:26: `region` does not apply to a `text` field (it applies to: phone) [field.option_not_allowed]",
    ]


def test_a_structural_mistake_does_not_hide_meaning_errors_elsewhere(write):
    """An unknown key in one field and a wrong type in a report no longer stop the expression and role checks."""
    path = write(
        HEAD
        + "entities:\n"
        + "  patient:\n"
        + "    fields:\n"
        + "      name: {type: text, colour: red}\n"
        + '      age: {type: integer, compute: "years_between(birth_dat, today())"}\n'
        + "      birth_date: {type: date}\n"
        + "    permissions:\n"
        + "      doctr: {read: all}\n"
        + "reports:\n"
        + "  broken: {source: patient, measures: [1, 2]}\n"
    )
    assert problems_of(path) == [
        "bp.yaml:8:26: unknown key `colour` [blueprint.unknown_key]",
        "bp.yaml:9:52: unknown name `birth_dat` (did you mean `birth_date`?) [expression.unknown_name]",
        "bp.yaml:12:7: unknown role `doctr` (did you mean `doctor`?) [permission.unknown_role]",
        "bp.yaml:14:29: `measures` must be a mapping [blueprint.wrong_type]",
    ]


def test_what_was_cut_for_a_structural_mistake_is_not_reported_again_as_unknown(write):
    """A form naming the field whose definition is broken gets no second, misleading "unknown field"."""
    path = write(
        HEAD
        + "entities:\n"
        + "  patient:\n"
        + "    fields:\n"
        + "      name: {type: text}\n"
        + "      phone: {type: phone, mask: [1]}\n"
        + "forms:\n"
        + "  intake:\n"
        + "    entity: patient\n"
        + "    layout:\n"
        + "      - {section: Basics, fields: [name, phone, nickname]}\n"
    )
    assert problems_of(path) == [
        "bp.yaml:9:28: unknown key `mask` [blueprint.unknown_key]",
        # the form's own mistake is found; `phone`, cut for its broken definition, is not called unknown
        "bp.yaml:14:49: unknown field `nickname` in entity `patient` (did you mean `name`?) [form.unknown_field]",
    ]


def test_unknown_names_in_required_if_and_readonly_if_are_located(write):
    path = write(
        HEAD + "entities:\n  patient:\n    fields:\n      name: {type: text}\n"
        "      nick: {type: text, required_if: nme != ''}\n"
        "      memo: {type: text, readonly_if: nmae == 'x'}\n"
    )
    assert problems_of(path) == [
        "bp.yaml:9:39: unknown name `nme` (did you mean `name`?) [expression.unknown_name]",
        "bp.yaml:10:39: unknown name `nmae` (did you mean `name`?) [expression.unknown_name]",
    ]
