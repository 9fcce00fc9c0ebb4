"""How `crm` shows a blueprint problem: the line, a caret under the column, the hint, where to read more.

The Rust and Elm compilers taught that an author fixes a mistake fastest when the
report shows the line itself. The one-line `file:line:column: message [code]` form
stays for editors and CI (`crm validate --short` or `CRM_ERROR_FORMAT=short`).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import LocatedProblem

# The part of the reference that explains each family of problem codes.
REFERENCE: dict[str, str] = {
    "yaml": "docs/blueprints.md#files",
    "file": "docs/blueprints.md#files",
    "blueprint": "docs/blueprints.md#files",
    "section": "docs/blueprints.md#files",
    "name": "docs/blueprints.md#entities",
    "text": "docs/blueprints.md#entities",
    "app": "docs/blueprints.md#app",
    "role": "docs/blueprints.md#roles",
    "entity": "docs/blueprints.md#entities",
    "field": "docs/blueprints.md#field-options",
    "validation": "docs/blueprints.md#validations",
    "permission": "docs/blueprints.md#permissions",
    "form": "docs/blueprints.md#forms",
    "expression": "docs/rules.md#1-the-expression-language",
    "decision_table": "docs/rules.md#4-decision-tables",
    "example": "docs/rules.md#5-examples-tests-inside-blueprints",
    "template": "docs/rules.md#6-message-templates",
    "workflow": "docs/workflows.md#workflows--state-machines",
    "automation": "docs/workflows.md#automations--triggers-and-actions",
    "notification": "docs/workflows.md#notifications--templates",
    "report": "docs/reports.md",
    "dashboard": "docs/reports.md",
}
# Codes whose family's page section is not the most precise place.
REFERENCE_BY_CODE: dict[str, str] = {
    "field.unknown_type": "docs/blueprints.md#field-types",
}
_TOKEN = re.compile(r"[\w.\-\u4e00-\u9fff]+|'[^']*'|\"[^\"]*\"")


def reference_for(code: str) -> str:
    """Where the reference explains problems with this code (the error code table by default)."""
    if code in REFERENCE_BY_CODE:
        return REFERENCE_BY_CODE[code]
    return REFERENCE.get(code.split(".", 1)[0], "docs/blueprints.md#error-codes")


def source_line(problem: LocatedProblem) -> str | None:
    """The text of the problem's line, if its file can still be read."""
    try:
        lines = Path(problem.position.file).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    index = problem.position.line - 1
    return lines[index] if 0 <= index < len(lines) else None


def caret_width(line: str, column: int) -> int:
    """How many characters the caret underlines: the word or quoted text starting at `column`."""
    match = _TOKEN.match(line, column - 1)
    return max(1, len(match.group(0))) if match else 1


def render_full(problem: LocatedProblem, severity: str = "error") -> str:
    """The problem as an author reads it: message, place, the line with a caret, hint, reference."""
    position = problem.position
    parts = [f"{severity}[{problem.code}]: {problem.message}", f"  --> {position}"]
    line = source_line(problem)
    if line is not None:
        number = str(position.line)
        gutter = " " * len(number)
        shown = line.expandtabs(1)
        parts += [
            f" {gutter} |",
            f" {number} | {shown}",
            f" {gutter} | {' ' * (position.column - 1)}{'^' * caret_width(shown, position.column)}",
        ]
    if problem.hint:
        parts.append(f"  = hint: {problem.hint}")
    parts.append(f"  = see: {reference_for(problem.code)}")
    return "\n".join(parts)


def render_short(problem: LocatedProblem) -> str:
    """`file:line:column: message (hint) [code]`: one line a problem, for editors and CI."""
    return str(problem)
