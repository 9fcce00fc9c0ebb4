"""docs/workflows.md keeps up with the engine: every problem code and every section key is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engines.workflows import AutomationSpec, WorkflowSpec
from engines.workflows.automation_spec import ACTION_KINDS
from engines.workflows.workflow_spec import TransitionSpec

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")
CODE = re.compile(r"""["']((?:workflow|automation|template)\.[a-z_]+)["']""")


def problem_codes() -> set[str]:
    return {
        code
        for path in (ROOT / "engines" / "workflows").glob("*.py")
        for code in CODE.findall(path.read_text(encoding="utf-8"))
    }


def test_codes_are_found():
    assert {"workflow.unreachable", "automation.bad_schedule", "template.unknown_name"} <= problem_codes()


@pytest.mark.parametrize("code", sorted(problem_codes()))
def test_every_problem_code_is_documented(code):
    assert f"| `{code}` |" in DOC


@pytest.mark.parametrize(
    "key",
    [
        f.alias or name
        for model in (WorkflowSpec, TransitionSpec, AutomationSpec)
        for name, f in model.model_fields.items()
    ]
    + list(ACTION_KINDS),
)
def test_every_key_is_documented(key):
    assert f"`{key}" in DOC
