"""Run the `examples:` a blueprint carries: tests inside the blueprint itself.

Decision tables, computed fields and validations may list inputs with the result
they must give, and reports given rows with the cells they must give; a changed
threshold that breaks one fails `crm validate` (and `crm test`) with the example
named, before it reaches patients.
"""

from __future__ import annotations

from engines.rules import Problem, run_examples, run_table_examples

from .loading import LoadedBlueprint
from .records.compiled import compile_entity
from .report_examples import run_report_examples


def blueprint_examples(loaded: LoadedBlueprint) -> tuple[int, list[Problem]]:
    """How many examples ran, and the problems of those that failed."""
    blueprint = loaded.blueprint
    tables = loaded.decision_tables
    count = sum(len(t.spec.examples) for t in tables.values())
    problems = [p.at("decision_tables") for p in run_table_examples(tables)]
    for name in blueprint.entities:
        entity = compile_entity(name, blueprint.entities, tables)
        for field in entity.fields.values():
            if field.spec.examples and field.compute is not None:
                count += len(field.spec.examples)
                problems += run_examples(
                    field.compute,
                    field.spec.examples,
                    name=f"{name}.{field.name}",
                    loc=("entities", name, "fields", field.name),
                )
        for index, (validation, spec) in enumerate(zip(entity.validations, entity.spec.validations)):
            if spec.examples:
                count += len(spec.examples)
                problems += run_examples(
                    validation.rule,
                    spec.examples,
                    name=f"{name} validation {index + 1}",
                    loc=("entities", name, "validations", index),
                    validation=True,
                )
    for name, report in blueprint.reports.items():
        ran, failed = run_report_examples(name, report, blueprint.entities)
        count += ran
        problems += failed
    return count, problems
