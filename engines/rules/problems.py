"""A blueprint author's mistake, as data.

Engines do not know files or lines: they report *where in the blueprint* a problem
is (`loc`, a path of keys like pydantic's) and the builder maps that path back to
file, line and column. Every engine can use this type because `rules` depends on
nothing else of ours.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a blueprint.

    `code` is stable (documented in docs/blueprints.md) so tools can match on it;
    `column_offset` points inside an expression string when the problem is there.
    """

    loc: Loc
    code: str
    message: str
    hint: str | None = None
    column_offset: int = 0

    def at(self, *prefix: str | int) -> Problem:
        """The same problem, located under `prefix` (callers know where they are)."""
        return Problem(tuple(prefix) + self.loc, self.code, self.message, self.hint, self.column_offset)


@dataclass
class ProblemList:
    """Collects problems so a check reports everything at once, not the first only."""

    items: list[Problem] = field(default_factory=list)

    def add(self, loc: Loc, code: str, message: str, hint: str | None = None, column_offset: int = 0) -> None:
        self.items.append(Problem(tuple(loc), code, message, hint, column_offset))

    def extend(self, problems: Iterable[Problem]) -> None:
        self.items.extend(problems)

    def __bool__(self) -> bool:
        return bool(self.items)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean `x`?" hint for a misspelt name, or None."""
    import difflib

    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None
