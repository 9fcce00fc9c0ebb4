"""A record's related records on its page: the lists of records that link to it (a patient's visits).

Declared by `related:` on the entity, or by default every entity with a link to it
that the viewer may read, newest first, five rows and a "see all" link to the list
filtered by the link. Each list is one call of the record service as the viewer
(grants, row filters, masking, the read audit), so a panel shows exactly what the
viewer's own list page would. The queries a page issues depend on how many panels
it has, never on how many rows they hold (tests/builder/web/test_web_patient_page.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup

from builder.records import Actor, RecordService, ValidationFailed
from builder.records.compiled import CompiledEntity
from engines.forms import localized
from engines.forms.models import RelatedChartSpec, RelatedSpec

from ..i18n import register_texts, translate
from ..presenting import display, entity_title, field_label
from .record_rows import default_columns, present_rows
from .sparkline import sparkline

register_texts(
    {
        "related.see_all": {"en": "See all {count}", "zh-CN": "查看全部 {count} 条"},
        "related.none": {"en": "None yet.", "zh-CN": "暂无记录。"},
        "related.new": {"en": "New {entity}", "zh-CN": "新建{entity}"},
        "related.trend": {"en": "Trend of {fields}", "zh-CN": "{fields}趋势"},
    }
)

CHART_POINTS = 30


@dataclass
class RelatedPanel:
    """One related list as the template draws it."""

    entity: str
    link: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    see_all: str = ""
    new_url: str | None = None
    new_label: str = ""
    charts: list[tuple[Markup, str]] = field(default_factory=list)  # (svg, caption)


def related_specs(service: RecordService, entity_name: str) -> list[RelatedSpec]:
    """The entity's declared `related:` lists with their links filled in, or the default ones."""
    declared = service.entities[entity_name].spec.related
    if declared is not None:
        resolved = []
        for spec in declared:
            links = [f for f, to in service.link_targets(spec.entity).items() if to == entity_name]
            link = spec.link or (links[0] if links else None)
            if link is not None:
                resolved.append(spec.model_copy(update={"link": link}))
        return resolved
    return [
        RelatedSpec(entity=other, link=link)
        for other in service.entities
        for link, to in service.link_targets(other).items()
        if to == entity_name
    ]


def _default_sort(entity: CompiledEntity, readable: frozenset[str]) -> str:
    """Newest first by the first date or time field the viewer may sort by, else by creation."""
    for name, f in entity.fields.items():
        if f.spec.type in ("date", "datetime") and name in readable and not (f.spec.encrypted or f.spec.sensitive):
            return f"-{name}"
    return "-id"


def _columns(entity: CompiledEntity, spec: RelatedSpec, readable: frozenset[str]) -> list[str]:
    if spec.columns is not None:
        return [c for c in spec.columns if c in readable and c in entity.fields]
    return default_columns(entity, readable, skip=(spec.link or "",))


def related_panels(
    service: RecordService, actor: Actor, entity_name: str, record_id: int, may_create_with: Any
) -> list[RelatedPanel]:
    """The panels this viewer may see for the record; `may_create_with(entity, link)` says if "New…" is offered."""
    panels = []
    for spec in related_specs(service, entity_name):
        panel = _panel(service, actor, spec, record_id, may_create_with)
        if panel is not None:
            panels.append(panel)
    return panels


def _panel(
    service: RecordService, actor: Actor, spec: RelatedSpec, record_id: int, may_create_with: Any
) -> RelatedPanel | None:
    entity = service.entities[spec.entity]
    grant = service.policy.grant(actor, spec.entity)
    link = spec.link or ""
    if link not in grant.readable:
        return None  # a list the viewer cannot filter by its link would tell what it may not read
    columns = _columns(entity, spec, grant.readable)
    shown = [*columns, *([entity.spec.title_field] if entity.spec.title_field in grant.readable else [])]
    filters = {link: record_id}
    try:
        page = service.list(
            actor,
            spec.entity,
            filters=filters,
            sort=spec.sort or _default_sort(entity, grant.readable),
            limit=spec.limit,
            fields=shown,
            count="exact",
        )
    except ValidationFailed:  # a declared sort on a field this role may not sort by: the default order
        page = service.list(
            actor,
            spec.entity,
            filters=filters,
            sort=_default_sort(entity, grant.readable),
            limit=spec.limit,
            fields=shown,
            count="exact",
        )
    rows = present_rows(service, actor, entity, page.items, columns)
    name = entity_title(entity, actor.locale)
    panel = RelatedPanel(
        entity=spec.entity,
        link=link,
        title=localized(spec.title, actor.locale, name) if spec.title else name,
        columns=[field_label(entity.fields[n], actor.locale) for n in columns],
        rows=rows,
        total=page.total or len(rows),
        see_all=f"/records/{spec.entity}?{urlencode({link: record_id})}",
    )
    if may_create_with(spec.entity, link):
        panel.new_url = f"/records/{spec.entity}/new?{urlencode({link: record_id})}"
        panel.new_label = name
    if spec.charts and page.items:
        panel.charts = _charts(service, actor, entity, spec.charts, link, record_id, grant.readable)
    return panel


def _charts(
    service: RecordService,
    actor: Actor,
    entity: CompiledEntity,
    charts: list[RelatedChartSpec],
    link: str,
    record_id: int,
    readable: frozenset[str],
) -> list[tuple[Markup, str]]:
    """The newest CHART_POINTS records as inline SVG trends, one query for all charts (fields the viewer may read)."""
    wanted = [
        (chart.x, [y for y in chart.y if y in readable and not entity.fields[y].spec.sensitive])
        for chart in charts
        if chart.x in readable
    ]
    wanted = [(x, ys) for x, ys in wanted if ys]
    if not wanted:
        return []
    fields = sorted({x for x, _ in wanted} | {y for _, ys in wanted for y in ys})
    try:
        page = service.list(
            actor,
            entity.name,
            filters={link: record_id},
            sort=f"-{wanted[0][0]}",
            limit=CHART_POINTS,
            fields=fields,
            count="none",
        )
    except ValidationFailed:  # a time field this role may not sort by: no trend rather than a guess
        return []
    points = list(reversed(page.items))  # oldest first, left to right
    drawn = []
    for x, ys in wanted:
        labels = [field_label(entity.fields[y], actor.locale) for y in ys]
        series = {label: [p.get(y) for p in points] for label, y in zip(labels, ys, strict=True)}
        moments = [display(entity.fields[x], p.get(x), actor.locale) for p in points]
        caption = translate("related.trend", actor.locale, fields=" / ".join(labels))
        svg = sparkline(series, moments, caption)
        if svg is not None:
            drawn.append((svg, caption))
    return drawn
