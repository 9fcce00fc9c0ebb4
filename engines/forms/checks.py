"""Meaning checks of the entities and forms sections (placeholder: see helper work)."""

from __future__ import annotations

from typing import Iterable

from engines.rules import Problem

from .models import EntitySpec, FormSpec


def check_entities_and_forms(entities: dict[str, EntitySpec], forms: dict[str, FormSpec], roles: set[str],
                             decision_tables: set[str] = frozenset()) -> Iterable[Problem]:
    """Every cross-reference and expression problem, with loc paths from the blueprint root."""
    return []
