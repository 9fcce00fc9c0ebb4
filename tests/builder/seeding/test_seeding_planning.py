"""Seeding order follows links (targets first, cycles and self-links survived); counts follow `--rows`."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.loading import load_blueprint
from builder.seeding import RowRequest, SeedRequestError, main_entity, parse_rows, plan_rows, seeding_order
from engines.forms import EntitySpec

ROOT = Path(__file__).resolve().parents[3]


def entities(**links: dict[str, tuple[str, bool]]) -> dict[str, EntitySpec]:
    """Entities named by keyword, each with a text field and links {field: (target, required)}."""
    return {
        name: EntitySpec(
            fields={
                "label": {"type": "text"},
                **{f: {"type": "link", "to": to, "required": required} for f, (to, required) in spec.items()},
            }
        )
        for name, spec in links.items()
    }


def test_targets_come_before_the_entities_that_link_to_them():
    clinic = load_blueprint(ROOT / "blueprints" / "clinic").blueprint.entities
    order = seeding_order(clinic)
    assert order.index("staff") < order.index("patient") < order.index("appointment")
    physio = load_blueprint(ROOT / "tests" / "blueprints" / "physio").blueprint.entities
    order = seeding_order(physio)
    assert order[:2] == ["therapist", "client"] and set(order) == set(physio)


def test_cycles_give_way_at_optional_links_and_self_links_do_not_block():
    found = seeding_order(
        entities(nurse={"ward": ("ward", True), "mentor": ("nurse", False)}, ward={"head": ("nurse", False)})
    )
    assert found == ["ward", "nurse"]
    assert set(seeding_order(entities(a={"b": ("b", True)}, b={"a": ("a", True)}))) == {"a", "b"}


def test_the_main_entity_is_patient_or_the_most_required_target():
    clinic = load_blueprint(ROOT / "blueprints" / "clinic").blueprint.entities
    assert main_entity(clinic) == "patient"
    physio = load_blueprint(ROOT / "tests" / "blueprints" / "physio").blueprint.entities
    assert main_entity(physio) == "client"


def test_default_counts_scale_with_the_main_entity():
    physio = load_blueprint(ROOT / "tests" / "blueprints" / "physio").blueprint.entities
    assert plan_rows(physio, RowRequest(main=300)) == {
        "therapist": 6,
        "client": 300,
        "exercise_plan": 600,
        "pain_reading": 600,
        "session": 600,
    }
    assert plan_rows(physio, parse_rows(["7", "session=0", "client=3"])) == {
        "therapist": 7,
        "client": 3,
        "exercise_plan": 7,
        "pain_reading": 7,
        "session": 0,
    }
    assert plan_rows(physio, parse_rows(["7"], main=20))["client"] == 20


@pytest.mark.parametrize(
    "given, error",
    [
        (["many"], "expected a count"),
        (["client=-1"], "expected a count"),
        (["client="], "expected a count"),
        (["patient=3"], "no entity called `patient` (entities: client, exercise_plan"),
    ],
)
def test_bad_row_requests_are_clear_errors(given, error):
    physio = load_blueprint(ROOT / "tests" / "blueprints" / "physio").blueprint.entities
    with pytest.raises(SeedRequestError, match=error.replace("(", r"\(")):
        plan_rows(physio, parse_rows(given))
