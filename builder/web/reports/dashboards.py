"""A dashboard: a grid of KPI cards, charts and tables, with global filters, for its roles only.

Global filters are the parameters the dashboard's reports share (same name and
type in two reports or more, e.g. `period` and `doctor`): one value set at the
top applies to every card whose report has it; left empty, each card keeps its
report's default. Each report runs once per page as the viewer, whatever number
of cards show it. A card whose report the role may not run says so; the rest of
the page still works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from builder.records import Actor, NotFound, PermissionDenied, RecordError
from builder.runtime import Runtime
from engines.forms import localized
from engines.reports import (
    CardSpec,
    DashboardSpec,
    ParameterSpec,
    ReportError,
    ReportResult,
    ReportSpec,
    Suppressed,
)

from ..context import require_actor
from ..i18n import register_texts, translate
from ..rendering import render
from .controls import Control, control_for
from .labels import number_text
from .params import BadReportParameters, report_params
from .running import drill_for, may_run, run, today_of
from .vendor import charts_available
from .view import ReportView, build_view, chart_type, embedded_json, report_title

register_texts(
    {
        "dashboards.filters": {"en": "Filters for every card", "zh-CN": "全部卡片的筛选条件"},
        "dashboards.not_for_role": {"en": "Your role may not see this report.", "zh-CN": "您的角色无权查看此报表。"},
        "dashboards.open_report": {"en": "Open the report", "zh-CN": "打开报表"},
        "dashboards.vs_previous": {"en": "vs the previous period", "zh-CN": "较上一周期"},
        "dashboards.kpi_hidden": {"en": "hidden for privacy", "zh-CN": "为保护隐私已隐藏"},
        "dashboards.points": {"en": "{value} pts", "zh-CN": "{value} 个百分点"},
        "dashboards.unknown_filter": {
            "en": "The dashboard has no filter `{name}`; it has: {known}.",
            "zh-CN": "看板没有筛选条件 `{name}`;可用的有:{known}。",
        },
    }
)

CHANGE_SUFFIXES = ("__change", "_change")  # a period-over-period column beside a measure, when a report gives one


@dataclass
class CardView:
    index: int
    title: str
    width: int
    kind: str  # kpi | chart | table
    report: str
    view: ReportView | None = None
    chart_json: str | None = None
    value: str = ""
    hidden: bool = False
    change: str = ""
    rising: bool | None = None
    error: str = ""
    min_cell: int = 5


def shared_parameters(specs: Mapping[str, ReportSpec]) -> dict[str, tuple[ReportSpec, ParameterSpec]]:
    """Parameters of the same name and type in two of the reports or more (all of them with one report)."""
    seen: dict[str, list[tuple[ReportSpec, ParameterSpec]]] = {}
    for spec in specs.values():
        for name, parameter in spec.parameters.items():
            seen.setdefault(name, []).append((spec, parameter))
    wanted = 1 if len(specs) == 1 else 2
    return {
        name: found[0] for name, found in seen.items() if len(found) >= wanted and len({p.type for _, p in found}) == 1
    }


def kpi_of(result: ReportResult, measure: str, locale: str) -> tuple[str, bool, str, bool | None]:
    """(value text, hidden?, change text, rising?): the totals' cell, or the only row's."""
    source = result.totals if result.totals is not None else (result.rows[0] if len(result.rows) == 1 else None)
    formats = {c.name: c.format for c in result.columns}
    if source is None:
        return "—", False, "", None
    value = source.get(measure)
    text = number_text(value, formats.get(measure), locale) or "—"
    hidden = isinstance(value, Suppressed)
    change, rising = "", None
    delta_of_period = (result.changes or {}).get(measure)
    if isinstance(delta_of_period, (int, float)) and not isinstance(delta_of_period, bool):
        # `compare:` (engines/reports/comparison.py): relative for counts, points for percentages
        rising = delta_of_period > 0 if delta_of_period != 0 else None
        arrow = "▲" if delta_of_period > 0 else ("▼" if delta_of_period < 0 else "")
        if formats.get(measure) == "percent":
            size = translate("dashboards.points", locale, value=f"{abs(delta_of_period) * 100:.1f}")
        else:
            size = number_text(abs(delta_of_period), "percent", locale)
        return text, hidden, f"{arrow} {size}".strip(), rising
    for suffix in CHANGE_SUFFIXES:
        key = measure + suffix
        delta = source.get(key)
        if isinstance(delta, (int, float)) and not isinstance(delta, bool):
            rising = delta > 0 if delta != 0 else None
            arrow = "▲" if delta > 0 else ("▼" if delta < 0 else "")
            change = f"{arrow} {number_text(abs(delta), formats.get(key) or 'percent', locale)}".strip()
            break
    return text, hidden, change, rising


async def dashboard_page(request: Request, runtime: Runtime) -> Response:
    actor = require_actor(request)
    service = runtime.records
    reports = runtime.blueprint.reports
    name = request.path_params["name"]
    board: DashboardSpec | None = runtime.blueprint.dashboards.get(name)
    if board is None:
        raise NotFound(f"there is no dashboard `{name}`")
    if actor.role not in board.roles:
        raise PermissionDenied(f"role `{actor.role}` may not open dashboard `{name}`")
    specs = {card.report: reports[card.report] for card in board.cards}
    shared = shared_parameters(specs)
    query = dict(request.query_params.items())
    errors = [
        translate("dashboards.unknown_filter", actor.locale, name=key, known=", ".join(shared) or "—")
        for key in query
        if key.partition("__")[0] not in shared
    ]
    today = today_of(service)
    runs: dict[str, tuple[ReportResult | None, dict[str, Any], str]] = {}

    async def result_of(report: str) -> tuple[ReportResult | None, dict[str, Any], str]:
        if report not in runs:
            spec = specs[report]
            mine = {
                k: v
                for k, v in query.items()
                if k.partition("__")[0] in shared and k.partition("__")[0] in spec.parameters
            }
            try:
                if not may_run(service, actor, spec):
                    raise PermissionDenied(report)
                params = report_params(spec, mine, form=True)
                runs[report] = (await run(service, reports, actor, report, params, today, via="dashboard"), params, "")
            except PermissionDenied:
                runs[report] = (None, {}, translate("dashboards.not_for_role", actor.locale))
            except (BadReportParameters, ReportError) as exc:
                errors.append(str(exc))
                runs[report] = (None, {}, str(exc))
            except RecordError as exc:
                runs[report] = (None, {}, str(exc))
        return runs[report]

    cards = [
        _card(service, actor, specs, index, card, await result_of(card.report), today)
        for index, card in enumerate(board.cards)
    ]
    controls: list[Control] = [
        control_for(
            service, actor, spec, pname, parameter, query, empty_label=translate("reports.card_default", actor.locale)
        )
        for pname, (spec, parameter) in shared.items()
    ]
    context = {
        "name": name,
        "title": localized(board.title, actor.locale, name.capitalize()),
        "cards": cards,
        "controls": controls,
        "errors": list(dict.fromkeys(errors)),
        "charts_available": charts_available(),
        "query": query,
    }
    return render(request, "dashboard.html", context, status_code=400 if errors else 200)


def _card(
    service: Any,
    actor: Actor,
    specs: Mapping[str, ReportSpec],
    index: int,
    card: CardSpec,
    run_: tuple[ReportResult | None, dict[str, Any], str],
    today: Any,
) -> CardView:
    spec = specs[card.report]
    result, params, error = run_
    kind = "kpi" if chart_type(spec, card) == "kpi" else "chart"
    view = CardView(index, report_title(card.report, spec, actor.locale), card.width, kind, card.report, error=error)
    view.min_cell = spec.min_cell
    if card.title is not None:
        view.title = localized(card.title, actor.locale, view.title)
    elif kind == "kpi" and card.measure is not None:
        measure = spec.measures[card.measure]
        view.title = localized(measure.label, actor.locale, card.measure.replace("_", " ").capitalize())
    if result is None:
        return view
    if kind == "kpi":
        view.value, view.hidden, view.change, view.rising = kpi_of(result, card.measure or "", actor.locale)
        return view
    drill = drill_for(service, actor, spec, params, today)
    view.view = build_view(service, card.report, spec, result, actor.locale, drill=drill.url, card=card)
    if view.view.chart_type == "table" or view.view.chart is None:
        view.kind = "table"
    else:
        view.chart_json = embedded_json(view.view.chart)
    return view
