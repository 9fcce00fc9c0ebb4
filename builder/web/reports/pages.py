"""The report pages: `/reports` (what the role may run), `/reports/{name}` (form, chart, table), `/dashboards/{name}`.

Pages only read parameters, run the report as the signed-in actor (running.py)
and hand the result to view.py; static/reports.js draws the charts with ECharts
from JSON in the page. Without ECharts (not installed) the tables still work and
the page says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.records import NotFound, PermissionDenied
from builder.runtime import Runtime
from engines.forms import localized
from engines.reports import ReportError

from ..context import require_actor
from ..i18n import register_texts
from ..rendering import render
from .controls import controls_for
from .dashboards import dashboard_page
from .designer_draft import may_design
from .params import BadReportParameters, report_params
from .running import drill_for, export_links, may_run, run, today_of
from .vendor import charts_available
from .view import build_view, embedded_json, report_title

PAGE_ROWS = 500

register_texts(
    {
        "reports.title": {"en": "Reports", "zh-CN": "报表"},
        "reports.dashboards": {"en": "Dashboards", "zh-CN": "看板"},
        "reports.none_for_role": {"en": "Your role has no reports.", "zh-CN": "您的角色没有可查看的报表。"},
        "reports.run": {"en": "Show", "zh-CN": "查询"},
        "reports.reset": {"en": "Reset", "zh-CN": "重置"},
        "reports.from": {"en": "From", "zh-CN": "从"},
        "reports.to": {"en": "To", "zh-CN": "至"},
        "reports.total": {"en": "Total", "zh-CN": "合计"},
        "reports.hidden": {
            "en": "{count} cells hidden for privacy (groups of fewer than {min} records).",
            "zh-CN": "为保护隐私,已隐藏 {count} 个单元格(记录数少于 {min} 的分组)。",
        },
        "reports.empty": {"en": "No records in this period.", "zh-CN": "此时间范围内没有记录。"},
        "reports.show_table": {"en": "Show table", "zh-CN": "显示表格"},
        "reports.hide_table": {"en": "Hide table", "zh-CN": "隐藏表格"},
        "reports.png": {"en": "Download PNG", "zh-CN": "下载图片"},
        "reports.export": {"en": "Export {format}", "zh-CN": "导出 {format}"},
        "reports.no_charts": {
            "en": "The charts library is not installed (run `make assets`); the numbers are shown as tables.",
            "zh-CN": "图表组件未安装(请运行 make assets),数据以表格显示。",
        },
        "reports.drill_hint": {
            "en": "Numbers link to the records behind them.",
            "zh-CN": "点击数字可查看对应的记录。",
        },
        "reports.forecast": {"en": "forecast", "zh-CN": "预测"},
        "reports.bad_params": {"en": "This report could not be run:", "zh-CN": "无法运行此报表:"},
        "reports.rows": {"en": "{first}–{last} of {total} rows", "zh-CN": "第 {first}–{last} 行,共 {total} 行"},
        "reports.chart_label": {"en": "Chart: {title}", "zh-CN": "图表:{title}"},
    }
)


def _offset(query: Mapping[str, str]) -> int:
    raw = query.get("offset", "0")
    return int(raw) if raw.isdigit() and len(raw) < 10 else 0


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records
    reports = runtime.blueprint.reports
    dashboards = runtime.blueprint.dashboards

    async def index(request: Request) -> Response:
        actor = require_actor(request)
        items = [
            {
                "name": name,
                "title": report_title(name, spec, actor.locale),
                "description": localized(spec.description, actor.locale, ""),
            }
            for name, spec in reports.items()
            if may_run(service, actor, spec)
        ]
        boards = [
            {"name": name, "title": localized(board.title, actor.locale, name.capitalize())}
            for name, board in dashboards.items()
            if actor.role in board.roles
        ]
        context = {"reports": items, "dashboards": boards, "may_design": may_design(service, actor)}
        return render(request, "reports.html", context)

    async def report_page(request: Request) -> Response:
        actor = require_actor(request)
        name = request.path_params["name"]
        spec = reports.get(name)
        if spec is None:
            raise NotFound(f"there is no report `{name}`")
        if not may_run(service, actor, spec):
            raise PermissionDenied(f"role `{actor.role}` may not run report `{name}`")
        query = dict(request.query_params.items())
        errors: list[str] = []
        view = None
        params: dict[str, Any] = {}
        offset, total_rows = _offset(query), 0
        today = today_of(service)
        try:
            params = report_params(spec, query, ignore=("offset",), form=True)
            result = await run(service, reports, actor, name, params, today, offset=offset, limit=PAGE_ROWS)
            total_rows = result.total_rows if result.total_rows is not None else len(result.rows)
            drill = drill_for(service, actor, spec, params, today)
            page = result.rows
            view = build_view(service, name, spec, result, actor.locale, drill=drill.url, rows=page)
        except BadReportParameters as exc:
            errors = [e.message for e in exc.errors]
        except ReportError as exc:
            errors = [str(exc)]
        if view is None:
            params = {}
        context = {
            "name": name,
            "title": report_title(name, spec, actor.locale),
            "description": localized(spec.description, actor.locale, ""),
            "view": view,
            "chart_json": embedded_json(view.chart) if view and view.chart else None,
            "controls": controls_for(service, actor, spec, query),
            "errors": errors,
            "min_cell": spec.min_cell,
            "charts_available": charts_available(),
            "drill": bool(view and drill.enabled),
            "exports": export_links(request, service, actor, name, spec, params) if view else [],
            "offset": offset,
            "total_rows": total_rows,
            "page_rows": PAGE_ROWS,
            "query": query,
        }
        return render(request, "report.html", context, status_code=400 if errors else 200)

    async def dashboard(request: Request) -> Response:
        return await dashboard_page(request, runtime)

    return [
        Route("/reports", index, methods=["GET"], name="reports"),
        Route("/reports/{name}", report_page, methods=["GET"], name="report"),
        Route("/dashboards/{name}", dashboard, methods=["GET"], name="dashboard"),
    ]
