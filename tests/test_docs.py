"""docs/blueprints.md keeps up with the code: every field type, field option and problem code is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engines.forms import FIELD_TYPES, FieldSpec, TasksSpec, ViewSpec

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "blueprints.md").read_text(encoding="utf-8")
CODE = re.compile(
    r"""["']((?:yaml|file|blueprint|section|name|text|entity|field|validation|permission|form|public|expression|tasks|view)"""
    r"""\.[a-z_]+)["']"""
)
SOURCES = [
    *sorted((ROOT / "engines" / "forms").glob("checks*.py")),
    *sorted((ROOT / "engines" / "forms" / "fieldtypes").glob("*.py")),
    ROOT / "engines" / "forms" / "tasks.py",
    ROOT / "engines" / "workflows" / "tasks.py",
    ROOT / "builder" / "loading.py",
    ROOT / "builder" / "source.py",
]


def problem_codes() -> set[str]:
    return {code for path in SOURCES for code in CODE.findall(path.read_text(encoding="utf-8"))}


def test_problem_codes_are_found():
    assert {"field.unknown_type", "permission.unknown_role", "yaml.syntax", "tasks.bad_due"} <= problem_codes()


@pytest.mark.parametrize("name", sorted(FIELD_TYPES))
def test_every_field_type_is_documented(name):
    assert f"| `{name}` |" in DOC


@pytest.mark.parametrize("option", list(FieldSpec.model_fields))
def test_every_field_option_is_documented(option):
    assert f"`{option}`" in DOC


@pytest.mark.parametrize("key", list(TasksSpec.model_fields))
def test_every_tasks_key_is_documented(key):
    assert f"    {key}: " in DOC.split("**Tasks.**", 1)[1].split("## Field types", 1)[0]


@pytest.mark.parametrize("key", list(ViewSpec.model_fields))
def test_every_view_key_is_documented(key):
    assert f" {key}: " in DOC.split("**Views.**", 1)[1].split("## Field types", 1)[0]


@pytest.mark.parametrize("code", sorted(problem_codes()))
def test_every_problem_code_is_documented(code):
    assert f"| `{code}` |" in DOC
