"""Fixtures for the storage tests: small blueprints from YAML, a keyring."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from builder.loading import load_blueprint
from builder.storage.crypto import Keyring
from engines.forms import EntitySpec


@pytest.fixture
def entities_from(tmp_path) -> Callable[[str], dict[str, EntitySpec]]:
    """entities_from(yaml) -> the entities of a one-file blueprint (app: test_clinic)."""
    counter = iter(range(1000))

    def load(entities_yaml: str) -> dict[str, EntitySpec]:
        path = tmp_path / f"blueprint_{next(counter)}.yaml"
        body = textwrap.indent(textwrap.dedent(entities_yaml).strip(), "  ")
        path.write_text(f"app: {{name: test_clinic}}\nentities:\n{body}\n", encoding="utf-8")
        return load_blueprint(path).blueprint.entities

    return load


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.generate()
