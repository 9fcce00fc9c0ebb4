"""An implementer's first hour with `crm`: problems shown on their line, no guessing where a project is,
and next steps that really are the next steps."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from builder.cli import main
from builder.cli.problem_report import REFERENCE, REFERENCE_BY_CODE

ROOT = Path(__file__).resolve().parents[3]
THREE_ERRORS = "tests/blueprints/three_errors.yaml"

FULL = """\
error[field.unknown_type]: unknown field type `txt`
  --> tests/blueprints/three_errors.yaml:8:14
   |
 8 |       name: {type: txt}
   |              ^^^^
  = hint: did you mean `text`?
  = see: docs/blueprints.md#field-types

error[expression.unknown_name]: unknown name `birth_dat`
  --> tests/blueprints/three_errors.yaml:9:52
   |
 9 |       age: {type: integer, compute: "years_between(birth_dat, today())"}
   |                                                    ^^^^^^^^^
  = hint: did you mean `birth_date`?
  = see: docs/rules.md#1-the-expression-language

error[permission.unknown_role]: unknown role `doctr`
  --> tests/blueprints/three_errors.yaml:12:7
    |
 12 |       doctr: {read: all}
    |       ^^^^^
  = hint: did you mean `doctor`?
  = see: docs/blueprints.md#permissions

3 problems found.
"""


def crm(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, stdin: str | None = None):
    """The real command in a subprocess, as an implementer runs it."""
    return subprocess.run(
        [sys.executable, "-c", "from builder.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=stdin,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "COLUMNS": "200", **(env or {})},
        timeout=120,
    )


def test_a_problem_is_shown_on_its_line_with_a_caret_hint_and_reference():
    done = crm("validate", THREE_ERRORS)
    assert done.returncode == 1
    assert done.stderr == FULL
    assert "Traceback" not in done.stderr


def test_the_short_form_stays_for_editors():
    lines = [
        "tests/blueprints/three_errors.yaml:8:14: unknown field type `txt` (did you mean `text`?) [field.unknown_type]",
        "tests/blueprints/three_errors.yaml:9:52: unknown name `birth_dat` (did you mean `birth_date`?) "
        "[expression.unknown_name]",
        "tests/blueprints/three_errors.yaml:12:7: unknown role `doctr` (did you mean `doctor`?) "
        "[permission.unknown_role]",
        "3 problems found.",
    ]
    assert crm("validate", "--short", THREE_ERRORS).stderr.splitlines() == lines
    assert crm("validate", THREE_ERRORS, env={"CRM_ERROR_FORMAT": "short"}).stderr.splitlines() == lines


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, punctuation dropped, spaces as hyphens."""
    headings = re.findall(r"^#{1,4} (.+)$", markdown, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("target", sorted(set(REFERENCE.values()) | set(REFERENCE_BY_CODE.values())))
def test_every_reference_points_at_a_real_section(target):
    page, _, anchor = target.partition("#")
    path = ROOT / page
    if not path.exists():
        pytest.skip(f"{page} arrives with its engine")
    assert not anchor or anchor in _anchors(path.read_text(encoding="utf-8")), target


def test_validate_outside_a_project_says_where_it_looked(tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.yaml").write_text("shopping: [milk]\n", encoding="utf-8")
    done = crm("validate", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"no project in {tmp_path}" in done.stderr and "crm validate PATH" in done.stderr
    assert "todo.yaml" not in done.stderr  # it did not go reading every YAML file below


def test_init_prints_the_real_next_steps_and_they_work(tmp_path, monkeypatch):
    monkeypatch.delenv("CRM_DATABASE_URL", raising=False)
    env = {"CRM_KEY_FILE": str(tmp_path / "keys.json")}
    done = crm("init", str(tmp_path / "clinic"), env=env)
    assert done.returncode == 0, done.stderr
    steps = [line.split("#")[0].strip() for line in done.stdout.splitlines() if line.startswith("  ")]
    assert steps[0] == f"cd {tmp_path / 'clinic'}" and "crm user add admin --role admin" in steps
    for step in steps[1:]:
        if step == "crm serve":
            continue  # runs until stopped; the web tests serve a project
        args = step.split()[1:]
        if args[:2] == ["seed", "--patients"]:
            args[2] = "5"
        ran = crm(*args, cwd=tmp_path / "clinic", env=env, stdin="a-long-enough-password-2026\n" * 2)
        assert ran.returncode == 0, (step, ran.stdout, ran.stderr)


def test_demo_does_not_tell_you_to_do_what_it_did(tmp_path):
    result = CliRunner().invoke(
        main,
        ["demo", str(tmp_path / "demo"), "--no-serve", "--patients", "3"],
        env={"CRM_KEY_FILE": str(tmp_path / "k")},
    )
    assert result.exit_code == 0, result.output
    assert "Next" not in result.output and "crm migrate" not in result.output
