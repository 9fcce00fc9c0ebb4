"""The home page's panels: short lists a role starts its day with (today's appointments by doctor).

Declared by `roles.ROLE.home.panels`, or by default one "today" list per entity the
role may read that has a date-time field and a link (appointments, visits,
readings): the records of today by that field, earliest first. Each panel is one
call of the record service as the user, so a doctor's row filter makes "today's
appointments" their own, and a panel the role may not read is simply not shown.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from builder.navigation_spec import HomePanelSpec
from builder.records import Actor, PermissionDenied, RecordService, ValidationFailed
from builder.records.compiled import CompiledEntity
from engines.forms import localized

from ..i18n import register_texts, translate
from ..presenting import display, entity_title, field_label
from .record_rows import default_columns, present_rows

register_texts(
    {
        "home.today": {"en": "Today: {entity}", "zh-CN": "今日{entity}"},
        "home.none": {"en": "Nothing here today.", "zh-CN": "今日暂无。"},
        "home.see_all": {"en": "Open the list", "zh-CN": "打开列表"},
        "home.no_group": {"en": "Not set", "zh-CN": "未指定"},
    }
)

MAX_DEFAULT_PANELS = 3


@dataclass
class HomePanel:
    title: str
    columns: list[str]
    groups: list[dict[str, Any]] = field(default_factory=list)  # [{label, rows}]; one unlabelled group if ungrouped
    total: int = 0
    see_all: str = ""


def default_panels(service: RecordService, actor: Actor) -> list[HomePanelSpec]:
    """Today's records of each readable entity with a date-time field and a link, up to three."""
    specs = []
    for name, entity in service.entities.items():
        readable = service.policy.grant(actor, name).readable
        moment = next(
            (
                n
                for n, f in entity.fields.items()
                if f.spec.type == "datetime" and n in readable and not (f.spec.encrypted or f.spec.sensitive)
            ),
            None,
        )
        if moment is None or not any(link in readable for link in service.link_targets(name)):
            continue
        specs.append(HomePanelSpec(entity=name, filters={moment: "today"}, sort=moment))
        if len(specs) >= MAX_DEFAULT_PANELS:
            break
    return specs


def _filters(entity: CompiledEntity, filters: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """The panel's filters as a list request's: `today` becomes the day's range for a time field."""
    resolved: dict[str, Any] = {}
    for key, value in filters.items():
        name = key.partition("__")[0]
        field_spec = entity.fields[name].spec if name in entity.fields else None
        if value == "today" and field_spec is not None and field_spec.type == "datetime":
            resolved[f"{name}__gte"] = f"{today.isoformat()}T00:00:00"
            resolved[f"{name}__lt"] = f"{(today + dt.timedelta(days=1)).isoformat()}T00:00:00"
        elif value == "today":
            resolved[key] = today.isoformat()
        elif isinstance(value, list):
            resolved[f"{name}__in"] = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            resolved[key] = "true" if value else "false"
        else:
            resolved[key] = str(value)
    return resolved


def home_panels(service: RecordService, actor: Actor, specs: list[HomePanelSpec]) -> list[HomePanel]:
    """The panels this user may see, each with its rows (grouped when the panel says so)."""
    today = service.clock().date()  # the app's clock: the clinic's day
    panels = []
    for spec in specs:
        panel = _panel(service, actor, spec, today)
        if panel is not None:
            panels.append(panel)
    return panels


def _panel(service: RecordService, actor: Actor, spec: HomePanelSpec, today: dt.date) -> HomePanel | None:
    entity = service.entities.get(spec.entity)
    grant = service.policy.grant(actor, spec.entity)
    if entity is None or not grant.readable:
        return None
    group_by = spec.group_by if spec.group_by in grant.readable else None
    columns = [c for c in (spec.columns or default_columns(entity, grant.readable)) if c in grant.readable]
    columns = [c for c in columns if c != group_by and c in entity.fields]
    wanted = [
        *columns,
        *([group_by] if group_by else []),
        *([entity.spec.title_field] if entity.spec.title_field else []),
    ]
    filters = _filters(entity, spec.filters, today)
    sort = ",".join(p for p in [group_by or "", spec.sort or ""] if p) or None
    try:
        page = service.list(
            actor,
            spec.entity,
            filters=filters,
            sort=sort,
            limit=spec.limit,
            fields=[w for w in wanted if w in grant.readable],
            count="exact",
        )
    except (ValidationFailed, PermissionDenied):
        return None  # a panel naming fields this role may not read is not this role's panel
    rows = present_rows(service, actor, entity, page.items, columns)
    groups: list[dict[str, Any]] = []
    for row in rows:
        label = ""
        if group_by:
            value = row["item"].get(group_by)
            label = display(entity.fields[group_by], value, actor.locale, row["titles"]) or translate(
                "home.no_group", actor.locale
            )
        if not groups or groups[-1]["label"] != label:
            groups.append({"label": label, "rows": []})
        groups[-1]["rows"].append(row)
    name = entity_title(entity, actor.locale)
    title = localized(spec.title, actor.locale, "") if spec.title else ""
    if not title:
        title = translate("home.today", actor.locale, entity=name) if "today" in spec.filters.values() else name
    see_all = {**filters, **({"sort": spec.sort} if spec.sort else {})}
    return HomePanel(
        title=title,
        columns=[field_label(entity.fields[c], actor.locale) for c in columns],
        groups=groups,
        total=page.total or len(rows),
        see_all=f"/records/{spec.entity}?{urlencode(see_all)}",
    )
