"""A form section's `required_if` / `readonly_if`: on every write (pages and API), and mirrored on the form page."""

from __future__ import annotations

import html
import json
import re

import pytest
from clinic_fixtures import clinic_copy

from builder.records import SYSTEM, Actor, ValidationFailed

FORM = """
follow_up_form:
  entity: follow_up
  layout:
    - section: {en: Task, zh-CN: 任务}
      fields: [patient, reason, status]
    - section: {en: Contact, zh-CN: 联系}
      readonly_if: "status != 'open'"
      fields: [assignee, due_on]
    - section: {en: Closing, zh-CN: 结束}
      required_if: "status == 'unreachable'"
      visible_if: "user.role != 'nurse'"
      fields: [attempts, outcome]
"""


@pytest.fixture
def clinic_with_sections(tmp_path, database_url):
    def with_form(blueprint):
        (blueprint / "forms" / "follow_up_form.yaml").write_text(FORM, encoding="utf-8")

    with clinic_copy(tmp_path, database_url, with_form) as made:
        yield made


def _box(page: str, name: str) -> str:
    match = re.search(rf'<div class="field[^"]*"([^>]*)>\s*<label for="f-{name}"', page)
    assert match, name
    return match.group(1)


def _rules(box: str, attribute: str) -> list[dict]:
    match = re.search(rf"{attribute}=\"([^\"]*)\"", box)
    assert match, (attribute, box)
    parsed = json.loads(html.unescape(match.group(1)))
    return parsed if isinstance(parsed, list) else [parsed]


def test_the_form_mirrors_section_conditions_on_each_field(clinic_with_sections):
    clinic = clinic_with_sections
    task = clinic.data["follow_up"]
    page = clinic.login("admin").get(f"/records/follow_up/{task['id']}/edit").text
    assert _rules(_box(page, "assignee"), "data-readonly-if") == [
        {"field": "status", "op": "not_in", "values": ["open"]}
    ]
    assert _rules(_box(page, "attempts"), "data-required-if") == [
        {"field": "status", "op": "in", "values": ["unreachable"]}
    ]
    # the field's own `required_if` and its section's: either one requires it
    assert {r["values"][0] for r in _rules(_box(page, "outcome"), "data-required-if")} == {"done", "unreachable"}


def test_the_api_cannot_change_a_field_of_a_locked_section(clinic_with_sections):
    clinic = clinic_with_sections
    task = clinic.data["follow_up"]
    done = clinic.runtime.records.update(
        SYSTEM, "follow_up", task["id"], {"status": "done", "outcome": "fine"}, version=task["version"]
    )
    response = clinic.api("admin").patch(
        f"/api/follow_up/{task['id']}", json={"version": done["version"], "due_on": "2026-04-01"}
    )
    assert response.status_code == 422, response.text
    assert {e["field"]: e["code"] for e in response.json()["errors"]} == {"due_on": "read_only_if"}
    page = clinic.login("admin").get(f"/records/follow_up/{task['id']}/edit").text
    assert re.search(r'<input type="date" id="f-due_on"[^>]*disabled', page)


def test_a_section_required_if_binds_the_api_and_not_where_the_section_is_hidden(clinic_with_sections):
    clinic = clinic_with_sections
    task = clinic.data["follow_up"]
    records = clinic.runtime.records
    gone = records.update(
        SYSTEM, "follow_up", task["id"], {"status": "unreachable", "outcome": "no answer"}, version=task["version"]
    )
    response = clinic.api("admin").patch(
        f"/api/follow_up/{task['id']}", json={"version": gone["version"], "outcome": ""}
    )
    assert response.status_code == 422, response.text
    assert {e["field"]: e["code"] for e in response.json()["errors"]} == {"outcome": "required"}
    # the Closing section is hidden from nurses: it requires nothing of them
    nurse = Actor(id=clinic.actors["nurse"].id, name="nurse", role="nurse", locale="en")
    saved = records.update(nurse, "follow_up", task["id"], {"outcome": None}, version=gone["version"])
    assert saved["outcome"] is None
    admin = Actor(id=clinic.actors["admin"].id, name="admin", role="admin", locale="en")
    with pytest.raises(ValidationFailed) as refused:
        records.update(admin, "follow_up", task["id"], {"attempts": 4}, version=saved["version"])
    assert {e.field: e.code for e in refused.value.errors} == {"outcome": "required"}
