"""Why a migration did not run, in words an operator can act on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from builder.errors import ProjectError

if TYPE_CHECKING:
    from .operations import Step


class MigrationError(ProjectError):
    """A migration that could not be planned or applied (nothing was changed)."""


class MigrationRefused(MigrationError):
    """The plan holds steps that would lose data (or cannot work with the current data).

    `steps` are the offending steps; `overridable` is False when even
    `--allow-data-loss` would not help (duplicates in a new unique field...).
    """

    def __init__(self, steps: list[Step], *, overridable: bool):
        self.steps = steps
        self.overridable = overridable
        lines = []
        for step in steps:
            if step.blocked:
                lines.append(f"  - {step.describe()}: {step.blocked}")
            else:
                lines.append(f"  - {step.describe()}")
        if overridable:
            head = "the migration would lose data, so it was not applied:"
            tail = (
                "\nRun again with --allow-data-loss to apply it anyway "
                "(a backup of the affected data is written first)."
            )
        else:
            head = "the migration cannot be applied to the current data:"
            tail = "\nFix the data or the blueprint and run again."
        super().__init__(head + "\n" + "\n".join(lines) + tail)
