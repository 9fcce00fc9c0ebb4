"""Blueprint errors that point at a file, a line and a column.

One family for a blueprint author's mistakes (`BlueprintError`, carrying every
problem found, so they can all be fixed in one pass); plain exceptions stay for our
own bugs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Position:
    """Where a node of a blueprint starts: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class LocatedProblem:
    """A problem with its place in the source files resolved."""

    position: Position
    code: str
    message: str
    hint: str | None = None
    path: str = ""

    def __str__(self) -> str:
        text = f"{self.position}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text + f" [{self.code}]"


class BlueprintError(Exception):
    """A blueprint that cannot be used; `problems` lists everything wrong with it."""

    def __init__(self, problems: list[LocatedProblem]):
        self.problems = sorted(problems, key=lambda p: (p.position.file, p.position.line, p.position.column))
        super().__init__("\n".join(str(p) for p in self.problems))


class ProjectError(Exception):
    """A project-level mistake (missing file, bad crm.toml, unreachable database) with a clear message."""


def relative(path: Path) -> str:
    """A path as the user knows it: relative to the working directory where possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
