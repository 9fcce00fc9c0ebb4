"""`crm validate` on workflows, automations and notifications: every mistake at file:line:column.

The engine's checks report blueprint paths; these tests prove the builder loads
the three sections (one file or a split folder) and locates each problem exactly.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from builder.errors import BlueprintError
from builder.loading import load_blueprint

ROOT = Path(__file__).resolve().parents[2]

HEAD = """app: {name: demo}
roles:
  doctor: {}
  nurse: {}
entities:
  task:
    fields:
      title: {type: text}
      status: {type: state, workflow: task_flow}
"""
FLOW = """workflows:
  task_flow:
    entity: task
    initial: open
    states:
      open: {}
      done: {final: true}
      lost: {}
    transitions:
      close: {from: opn, to: done, roles: [doctr], if: "titel != ''"}
automations:
  nag:
    entity: task
    at: "title"
    do:
      - notify: {to: record, channel: inbox, template: nag}
notifications:
  nag:
    channels:
      inbox: {body: "Still open: {{ titl }}"}
"""
EXPECTED = [
    "bp.yaml:15:7: state `open` has no way out and is not marked final "
    "(add `final: true` to it, or a transition from it) [workflow.dead_end]",
    "bp.yaml:16:7: no transition leads from `open` to state `done` "
    "(add a transition to it, or remove the state) [workflow.unreachable]",
    "bp.yaml:17:7: no transition leads from `open` to state `lost` "
    "(add a transition to it, or remove the state) [workflow.unreachable]",
    "bp.yaml:19:15: unknown state `opn` (did you mean `open`?) [workflow.unknown_state]",
    "bp.yaml:19:44: unknown role `doctr` (did you mean `doctor`?) [workflow.unknown_role]",
    "bp.yaml:19:57: unknown name `titel` (did you mean `title`?) [expression.unknown_name]",
    "bp.yaml:23:5: `at` must give a date or datetime, not a text (e.g. `starts_at - hours(24)`) "
    "[automation.wrong_type]",
    "bp.yaml:29:37: `titl` is not a field of `task`, which this notification is sent about "
    "(did you mean `title`?) [template.unknown_name]",
]


def problems_of(path: Path | str) -> list[str]:
    with pytest.raises(BlueprintError) as caught:
        load_blueprint(path)
    return sorted(str(problem) for problem in caught.value.problems)


@pytest.fixture
def write(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    def write(text: str, name: str = "bp.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return Path(name)

    return write


def test_every_flow_problem_is_located(write):
    assert problems_of(write(HEAD + FLOW)) == sorted(EXPECTED)


def test_crm_validate_prints_them_and_fails(write, tmp_path):
    write(HEAD + FLOW)
    done = subprocess.run(
        [sys.executable, "-c", "from builder.cli import main; main()", "validate", "bp.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "CRM_ERROR_FORMAT": "short"},
    )
    assert done.returncode != 0
    assert [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("bp.yaml")] == EXPECTED
    assert "Traceback" not in done.stderr


def test_a_state_field_naming_an_undefined_workflow(write):
    assert problems_of(write(HEAD)) == [
        "bp.yaml:9:29: workflow `task_flow` is not defined under `workflows:` [field.unknown_workflow]"
    ]


def test_structural_mistakes_in_flow_sections(write):
    text = HEAD + FLOW.replace('    at: "title"\n', "    on: created\n").replace("final: true", "finale: true")
    found = problems_of(write(text))
    assert "bp.yaml:16:14: unknown key `finale` (did you mean `final`?) [blueprint.unknown_key]" in found
    assert (
        "bp.yaml:23:5: unknown key `True` (YAML reads a bare `on`, `off`, `yes` or `no` as true or false; "
        "an automation's trigger is written `when:`) [blueprint.unknown_key]" in found
    )


def test_a_split_folder_may_hold_flow_sections_in_one_file(write):
    write(HEAD, "bp/app.yaml")
    fixed = (
        FLOW.replace("opn", "open")
        .replace("[doctr]", "[doctor]")
        .replace("titel", "title")
        .replace("titl ", "title ")
        .replace("      lost: {}\n", "")
        .replace('at: "title"', "when: created")
    )
    write(fixed, "bp/workflows/tasks.yaml")
    loaded = load_blueprint("bp")
    assert list(loaded.flows.machines) == ["task_flow"]
    assert list(loaded.flows.automations) == ["nag"]


def test_a_workflow_file_may_hold_just_the_workflow(write):
    write(HEAD, "bp/app.yaml")
    write(
        "task_flow:\n  entity: task\n  initial: open\n  states: {open: {}, done: {final: true}}\n"
        "  transitions: {close: {from: open, to: done}}\n",
        "bp/workflows/task_flow.yaml",
    )
    assert list(load_blueprint("bp").flows.machines) == ["task_flow"]
