"""Meaning checks of an entity's `related:` lists: the entity, its link here, columns, sort and chart."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from engines.rules import Problem, did_you_mean

from .models import EntitySpec, RelatedSpec

SORTABLE_SYSTEM = ("id", "created_at", "updated_at")


def links_to(entities: Mapping[str, EntitySpec], source: str, target: str) -> list[str]:
    """The link fields of `source` that point at `target`, in blueprint order."""
    spec = entities.get(source)
    if spec is None:
        return []
    return [n for n, f in spec.fields.items() if f.type == "link" and f.to == target]


def check_related(entities: Mapping[str, EntitySpec], name: str) -> Iterator[Problem]:
    """Every problem of `entities.NAME.related` (locs from the blueprint root)."""
    for index, related in enumerate(entities[name].related or []):
        yield from _check_one(entities, name, related, ("entities", name, "related", index))


def _check_one(entities: Mapping[str, EntitySpec], name: str, related: RelatedSpec, loc: tuple) -> Iterator[Problem]:
    other = entities.get(related.entity)
    if other is None:
        yield Problem(
            loc + ("entity",),
            "related.unknown_entity",
            f"there is no entity `{related.entity}`",
            did_you_mean(related.entity, entities),
        )
        return
    links = links_to(entities, related.entity, name)
    if related.link is not None:
        if related.link not in links:
            yield Problem(
                loc + ("link",),
                "related.not_a_link",
                f"`{related.entity}.{related.link}` is not a link to `{name}`",
                f"links to `{name}`: {', '.join(links)}" if links else None,
            )
    elif len(links) != 1:
        yield Problem(
            loc,
            "related.which_link",
            f"`{related.entity}` has {'no link' if not links else 'several links'} to `{name}`",
            f"name one with `link:` ({', '.join(links)})" if links else f"add a link field `to: {name}`",
        )
    fields = other.fields
    for i, column in enumerate(related.columns or []):
        if column not in fields:
            yield Problem(
                loc + ("columns", i),
                "related.unknown_field",
                f"`{related.entity}` has no field `{column}`",
                did_you_mean(column, fields),
            )
    if related.sort is not None:
        for part in related.sort.split(","):
            field = part.strip().lstrip("+-")
            if field not in fields and field not in SORTABLE_SYSTEM:
                yield Problem(
                    loc + ("sort",),
                    "related.unknown_field",
                    f"`{related.entity}` has no field `{field}` to sort by",
                    did_you_mean(field, fields),
                )
    for c, chart in enumerate(related.charts):
        at = loc + ("chart", c) if isinstance(related.chart, list) else loc + ("chart",)
        if chart.x not in fields or fields[chart.x].type not in ("date", "datetime"):
            yield Problem(
                loc + ("chart", "x"),
                "related.chart_x",
                f"`{chart.x}` must be a date or datetime field of `{related.entity}`",
            )
        for i, y in enumerate(chart.y):
            if y not in fields or fields[y].type not in ("integer", "decimal"):
                yield Problem(at + ("y", i), "related.chart_y", f"`{y}` must be a number field of `{related.entity}`")
