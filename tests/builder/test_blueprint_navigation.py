"""`crm validate` on the menu (`app.menu`), the roles' home pages (`roles.ROLE.home`) and `related:` lists.

Each mistake is reported at the exact name that is wrong, with a did-you-mean hint.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.errors import BlueprintError
from builder.loading import load_blueprint

ENTITIES = """entities:
  patient:
    title_field: name
    fields:
      name: {type: text}
  appointment:
    fields:
      patient: {type: link, to: patient}
      referrer: {type: link, to: patient}
      starts_at: {type: datetime}
      systolic: {type: integer}
      note: {type: text}
"""


def problems_of(path: Path) -> list[str]:
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(path)
    return [str(problem) for problem in caught.value.problems]


@pytest.fixture
def write(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def write(text: str) -> Path:
        (tmp_path / "bp.yaml").write_text(text, encoding="utf-8")
        return Path("bp.yaml")

    return write


def test_menu_entries_must_name_real_entities_reports_and_dashboards(write):
    path = write(
        "app:\n"
        "  name: demo\n"
        "  menu:\n"
        "    - label: {en: Records}\n"
        "      items: [{entity: patiens}, {report: nothing}, {dashboard: today}, {page: tasks}]\n"
        "roles:\n  doctor: {}\n" + ENTITIES
    )
    assert problems_of(path) == [
        "bp.yaml:5:16: there is no entity `patiens` (did you mean `patient`?) [menu.unknown_entity]",
        "bp.yaml:5:35: there is no report `nothing` [menu.unknown_report]",
        "bp.yaml:5:54: there is no dashboard `today` [menu.unknown_dashboard]",
    ]


def test_a_menu_entry_names_exactly_one_thing(write):
    path = write(
        "app:\n  name: demo\n  menu:\n    - items: [{entity: patient, page: tasks}]\n" + "roles: {}\n" + ENTITIES
    )
    (problem,) = problems_of(path)
    assert problem.startswith("bp.yaml:4:15:") and "exactly one of entity, report, dashboard or page" in problem


def test_home_panels_must_name_real_entities_and_fields(write):
    path = write(
        "app: {name: demo}\n"
        "roles:\n"
        "  doctor:\n"
        "    home:\n"
        "      dashboard: today\n"
        "      panels:\n"
        "        - {entity: appointmnt}\n"
        "        - {entity: appointment, filters: {note: today, startz_at: today}, group_by: systolic, sort: -when}\n"
        + ENTITIES
    )
    assert problems_of(path) == [
        "bp.yaml:5:7: there is no dashboard `today` [home.unknown_dashboard]",
        "bp.yaml:7:12: there is no entity `appointmnt` (did you mean `appointment`?) [home.unknown_entity]",
        "bp.yaml:8:33: `appointment` has no field `startz_at` (did you mean `starts_at`?) [home.unknown_field]",
        "bp.yaml:8:43: `today` filters a date or datetime field [home.today]",
        "bp.yaml:8:75: group by a link, select, state or user field [home.group_by]",
        "bp.yaml:8:95: `appointment` has no field `when` [home.unknown_field]",
    ]


def test_related_lists_must_name_a_link_to_the_entity_and_real_fields(write):
    related = (
        "    related:\n"
        "      - {entity: appointment}\n"
        "      - {entity: appointment, link: note, columns: [starts_at, nope], sort: -nope}\n"
        "      - {entity: appointment, link: patient, chart: {type: line, x: note, y: [systolic, note]}}\n"
        "      - {entity: visits}\n"
    )
    entities = ENTITIES.replace("      name: {type: text}\n", "      name: {type: text}\n" + related)
    path = write("app: {name: demo}\nroles: {}\n" + entities)
    assert problems_of(path) == [
        "bp.yaml:9:9: `appointment` has several links to `patient` (name one with `link:` (patient, referrer)) "
        "[related.which_link]",
        "bp.yaml:10:31: `appointment.note` is not a link to `patient` (links to `patient`: patient, referrer) "
        "[related.not_a_link]",
        "bp.yaml:10:64: `appointment` has no field `nope` (did you mean `note`?) [related.unknown_field]",
        "bp.yaml:10:71: `appointment` has no field `nope` to sort by (did you mean `note`?) [related.unknown_field]",
        "bp.yaml:11:66: `note` must be a date or datetime field of `appointment` [related.chart_x]",
        "bp.yaml:11:89: `note` must be a number field of `appointment` [related.chart_y]",
        "bp.yaml:12:10: there is no entity `visits` [related.unknown_entity]",
    ]


def test_the_clinic_and_physio_blueprints_declare_their_navigation_validly():
    root = Path(__file__).resolve().parents[2]
    clinic = load_blueprint(root / "blueprints" / "clinic").blueprint
    assert clinic.roles["front_desk"].home is not None and clinic.roles["front_desk"].home.dashboard == "today"
    assert [r.entity for r in clinic.entities["patient"].related or []] == [
        "appointment",
        "visit",
        "vital_reading",
        "follow_up",
    ]
    load_blueprint(root / "tests" / "blueprints" / "physio")  # no menu, homes or related: the defaults
