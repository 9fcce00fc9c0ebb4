"""The parameter form of a report (and a dashboard's global filters): presets, dates, pickers, selects.

Each control shows the parameter in the viewer's words: period names, option
labels, the records of a link the viewer may see (a number box when it may not
read them, as for the aggregates-only analyst).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from builder.records import Actor, RecordService
from engines.forms import field_type, localized
from engines.reports import PERIODS, ParameterSpec, PathError, ReportSpec, resolve_path

from ..i18n import register_texts, translate
from ..pages.choices import SELECT_LIMIT, link_choices
from .params import CUSTOM

register_texts(
    {
        "reports.period.all": {"en": "All time", "zh-CN": "全部时间"},
        "reports.period.today": {"en": "Today", "zh-CN": "今天"},
        "reports.period.last_7_days": {"en": "Last 7 days", "zh-CN": "最近 7 天"},
        "reports.period.last_30_days": {"en": "Last 30 days", "zh-CN": "最近 30 天"},
        "reports.period.this_month": {"en": "This month", "zh-CN": "本月"},
        "reports.period.last_month": {"en": "Last month", "zh-CN": "上月"},
        "reports.period.last_3_months": {"en": "Last 3 months", "zh-CN": "最近 3 个月"},
        "reports.period.last_12_months": {"en": "Last 12 months", "zh-CN": "最近 12 个月"},
        "reports.period.this_quarter": {"en": "This quarter", "zh-CN": "本季度"},
        "reports.period.this_year": {"en": "This year", "zh-CN": "今年"},
        "reports.period.last_year": {"en": "Last year", "zh-CN": "去年"},
        "reports.period.custom": {"en": "Custom dates", "zh-CN": "自定义日期"},
        "reports.default": {"en": "Default ({value})", "zh-CN": "默认({value})"},
        "reports.card_default": {"en": "Each card's default", "zh-CN": "各卡片默认"},
        "reports.any": {"en": "Any", "zh-CN": "全部"},
        "reports.period": {"en": "Period", "zh-CN": "时间范围"},
        "reports.record_id": {"en": "record number", "zh-CN": "记录编号"},
    }
)


@dataclass
class Control:
    name: str
    label: str
    kind: str  # period | choice | number
    value: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    low: str = ""
    high: str = ""


def period_text(value: str, locale: str) -> str:
    return translate(f"reports.period.{value}", locale) if value in PERIODS else value


def parameter_label(service: RecordService, spec: ReportSpec, name: str, parameter: ParameterSpec, locale: str) -> str:
    entities = {e: c.spec for e, c in service.entities.items()}
    fallback = translate("reports.period", locale) if parameter.type == "date_range" else name.capitalize()
    try:
        path = resolve_path(entities, spec.source, parameter.field)
        if parameter.type != "date_range":
            fallback = localized(path.spec.label, locale, fallback)
    except (PathError, KeyError):
        pass
    return localized(parameter.label, locale, fallback)


def control_for(
    service: RecordService,
    actor: Actor,
    spec: ReportSpec,
    name: str,
    parameter: ParameterSpec,
    query: Mapping[str, str],
    *,
    empty_label: str | None = None,
) -> Control:
    """The control of one parameter, showing what `query` set (or the default)."""
    locale = actor.locale
    label = parameter_label(service, spec, name, parameter, locale)
    raw = query.get(name, "")
    default = "" if parameter.default is None else str(parameter.default)
    if parameter.type == "date_range":
        first = empty_label or translate("reports.default", locale, value=period_text(default, locale) or "—")
        options = (
            [("", first)] + [(p, period_text(p, locale)) for p in PERIODS] + [(CUSTOM, period_text(CUSTOM, locale))]
        )
        low, high = query.get(f"{name}__from", ""), query.get(f"{name}__to", "")
        if ".." in raw:
            low, _, high = raw.partition("..")
            raw = CUSTOM
        if (low or high) and raw == "":
            raw = CUSTOM
        return Control(name, label, "period", raw, options, low, high)
    entities = {e: c.spec for e, c in service.entities.items()}
    try:
        field_spec = resolve_path(entities, spec.source, parameter.field).spec
    except (PathError, KeyError):
        return Control(name, label, "number", raw)
    any_label = empty_label or translate("reports.any", locale)
    if parameter.type == "link" and field_spec.to:
        current = int(raw) if raw.isdigit() and len(raw) < 19 else None
        choices = link_choices(service, actor, field_spec.to, current)
        if choices.readable and choices.search_url is None and len(choices.options) <= SELECT_LIMIT:
            first = any_label if not default else translate("reports.default", locale, value="#" + default)
            return Control(name, label, "choice", raw, [("", first), *choices.options])
        return Control(name, label, "number", raw)
    kind = field_type(field_spec.type)
    if field_spec.type == "boolean":
        options = [("true", kind.display(True, field_spec, locale)), ("false", kind.display(False, field_spec, locale))]
    else:
        options = [(o, kind.option_label(o, field_spec, locale)) for o in field_spec.options or []]
    shown = dict(options).get(default, default)
    first = any_label if not default else translate("reports.default", locale, value=shown)
    return Control(name, label, "choice", raw, [("", first), *options])


def controls_for(service: RecordService, actor: Actor, spec: ReportSpec, query: Mapping[str, str]) -> list[Control]:
    return [control_for(service, actor, spec, n, p, query) for n, p in spec.parameters.items()]
