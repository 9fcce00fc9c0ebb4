"""The report designer: `/reports/designer` (a form, the live result, the YAML) and `POST /api/reports/preview`.

A draft is checked with the engine's own model and checks (designer_draft.py) and
run as the signed-in actor with `run_draft_as`: the same grants, row filters,
small-cell suppression and audit entry as a saved report, so the designer shows
nothing the role could not see in a report. Only `admin` saves a draft into the
blueprint folder (builder/report_saving.py), after the whole blueprint passes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, FieldError, PermissionDenied
from builder.records.reporting import run_draft_as
from builder.report_saving import SaveRefused, save_report
from builder.runtime import Runtime
from engines.reports import AGGREGATES, PERIODS, ReportError, ReportResult, ReportSpec
from engines.reports.report_spec import CHART_TYPES, CYCLE_BUCKETS, FORMATS, TIME_BUCKETS

from ..api.errors import ApiError
from ..context import require_actor
from ..i18n import register_texts, translate
from ..rendering import render
from .api import paging, result_json
from .controls import period_text
from .designer_draft import (
    DIMENSION_SLOTS,
    MEASURE_SLOTS,
    DraftProblem,
    check_draft,
    design_sources,
    draft_from_form,
    entity_label,
    form_from_spec,
    path_choices,
    yaml_of,
)
from .running import may_run, today_of
from .vendor import charts_available
from .view import build_view, embedded_json

SAVER_ROLE = "admin"
PAGE_ROWS = 500  # the page shows the first rows of a draft, as a report page does

register_texts(
    {
        "designer.title": {"en": "Report designer", "zh-CN": "报表设计器"},
        "designer.open": {"en": "Design a report", "zh-CN": "设计报表"},
        "designer.intro": {
            "en": "Pick what to count and how to group it; the result below follows your rights.",
            "zh-CN": "选择要统计的内容和分组方式;下方结果按您的权限显示。",
        },
        "designer.name": {"en": "Report name (a–z, 0–9, _)", "zh-CN": "报表名称(小写字母、数字、下划线)"},
        "designer.title_en": {"en": "Title (English)", "zh-CN": "标题(英文)"},
        "designer.title_zh": {"en": "Title (Chinese)", "zh-CN": "标题(中文)"},
        "designer.source": {"en": "Count records of", "zh-CN": "统计的记录类型"},
        "designer.dimensions": {"en": "Group by", "zh-CN": "分组"},
        "designer.dimension": {"en": "Grouping {n}", "zh-CN": "分组 {n}"},
        "designer.by": {"en": "Time bucket", "zh-CN": "时间粒度"},
        "designer.none": {"en": "(none)", "zh-CN": "(无)"},
        "designer.measures": {"en": "Measures", "zh-CN": "指标"},
        "designer.measure": {"en": "Measure {n}", "zh-CN": "指标 {n}"},
        "designer.not_table": {
            "en": "`{name}` is a cohort report: the designer makes table reports; edit its YAML instead.",
            "zh-CN": "“{name}”是队列报表:设计器只能设计表格报表,请直接编辑其 YAML。",
        },
        "designer.add_measure": {"en": "Add measure {n}", "zh-CN": "添加指标 {n}"},
        "designer.measure_name": {"en": "Name (a–z, _)", "zh-CN": "名称(小写字母、下划线)"},
        "designer.agg": {"en": "Computes", "zh-CN": "计算方式"},
        "designer.field": {"en": "Field", "zh-CN": "字段"},
        "designer.where": {"en": "Only records where (optional)", "zh-CN": "仅统计满足条件的记录(可选)"},
        "designer.expr": {"en": "Expression over other measures", "zh-CN": "由其他指标计算的表达式"},
        "designer.format": {"en": "Shown as", "zh-CN": "显示为"},
        "designer.filters": {"en": "Only records where (one condition a line)", "zh-CN": "筛选条件(每行一个)"},
        "designer.period_field": {"en": "Date range on", "zh-CN": "时间范围字段"},
        "designer.period_default": {"en": "Default period", "zh-CN": "默认时间范围"},
        "designer.sort": {"en": "Sort by (columns, -name descending)", "zh-CN": "排序(列名,-name 为降序)"},
        "designer.limit": {"en": "At most this many rows", "zh-CN": "最多行数"},
        "designer.totals": {"en": "Totals row", "zh-CN": "合计行"},
        "designer.chart": {"en": "Chart", "zh-CN": "图表"},
        "designer.chart_type": {"en": "Chart type", "zh-CN": "图表类型"},
        "designer.chart_x": {"en": "Across (x)", "zh-CN": "横轴 (x)"},
        "designer.chart_y": {"en": "Value (y)", "zh-CN": "数值 (y)"},
        "designer.chart_series": {"en": "One line or bar per", "zh-CN": "系列"},
        "designer.preview": {"en": "Preview", "zh-CN": "预览"},
        "designer.result": {"en": "Result", "zh-CN": "结果"},
        "designer.problems": {"en": "The draft has problems:", "zh-CN": "草稿有以下问题:"},
        "designer.yaml": {"en": "Blueprint YAML", "zh-CN": "蓝图 YAML"},
        "designer.yaml_hint": {
            "en": "Copy this into a file under reports/ of the blueprint, or save it below.",
            "zh-CN": "可复制到蓝图的 reports/ 目录下的文件中,或在下方保存。",
        },
        "designer.save": {"en": "Save to the blueprint", "zh-CN": "保存到蓝图"},
        "designer.replace": {"en": "Replace a report of this name", "zh-CN": "替换同名报表"},
        "designer.saved": {
            "en": "Saved as {file}. Running servers on this blueprint folder show it from their next page.",
            "zh-CN": "已保存为 {file}。使用此蓝图目录的服务在下一次打开页面时即会显示。",
        },
        "designer.restart": {
            "en": "Saving writes the report into the blueprint folder after checking the whole blueprint "
            "as `crm validate` does. Running servers notice the new file within a second and serve the report "
            "without a restart.",
            "zh-CN": "保存时会像 crm validate 一样检查整个蓝图,通过后写入蓝图目录。"
            "正在运行的服务会在一秒内发现新文件,无需重启即可显示新报表。",
        },
        "designer.not_saved": {"en": "Not saved:", "zh-CN": "未保存:"},
        "designer.only_admin": {
            "en": "Only an administrator can save reports into the blueprint.",
            "zh-CN": "只有管理员可以把报表保存到蓝图。",
        },
        "designer.agg.count": {"en": "Count of records", "zh-CN": "记录数"},
        "designer.agg.count_distinct": {"en": "Count of distinct values", "zh-CN": "去重计数"},
        "designer.agg.sum": {"en": "Sum", "zh-CN": "求和"},
        "designer.agg.avg": {"en": "Average", "zh-CN": "平均值"},
        "designer.agg.min": {"en": "Smallest", "zh-CN": "最小值"},
        "designer.agg.max": {"en": "Largest", "zh-CN": "最大值"},
        "designer.agg.median": {"en": "Median (PostgreSQL)", "zh-CN": "中位数(仅 PostgreSQL)"},
        "designer.agg.expr": {"en": "Expression", "zh-CN": "表达式"},
        "designer.bucket.day": {"en": "Day", "zh-CN": "日"},
        "designer.bucket.week": {"en": "Week", "zh-CN": "周"},
        "designer.bucket.month": {"en": "Month", "zh-CN": "月"},
        "designer.bucket.quarter": {"en": "Quarter", "zh-CN": "季度"},
        "designer.bucket.year": {"en": "Year", "zh-CN": "年"},
        "designer.bucket.weekday": {"en": "Day of the week", "zh-CN": "星期几"},
        "designer.bucket.hour": {"en": "Hour of the day", "zh-CN": "时段(小时)"},
        "designer.format.number": {"en": "Number", "zh-CN": "数值"},
        "designer.format.integer": {"en": "Whole number", "zh-CN": "整数"},
        "designer.format.percent": {"en": "Percentage", "zh-CN": "百分比"},
        "designer.chart.line": {"en": "Line", "zh-CN": "折线图"},
        "designer.chart.bar": {"en": "Bars", "zh-CN": "柱状图"},
        "designer.chart.stacked_bar": {"en": "Stacked bars", "zh-CN": "堆叠柱状图"},
        "designer.chart.pie": {"en": "Pie", "zh-CN": "饼图"},
        "designer.chart.table": {"en": "Table only", "zh-CN": "仅表格"},
        "designer.chart.kpi": {"en": "One number (KPI)", "zh-CN": "单个数字 (KPI)"},
        "designer.chart.heatmap": {"en": "Heat map", "zh-CN": "热力图"},
        "designer.general": {"en": "Report", "zh-CN": "报表"},
    }
)


@dataclass
class Outcome:
    """What a draft came to: its name and data, the checked spec, problems by control, the result."""

    name: str
    data: dict[str, Any]
    spec: ReportSpec | None
    problems: list[DraftProblem] = field(default_factory=list)
    result: ReportResult | None = None

    def by_control(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for problem in self.problems:
            found.setdefault(problem.control, []).append(problem.message)
        return found


def _starting_form(runtime: Runtime, actor: Actor, query: Mapping[str, str]) -> dict[str, str]:
    """The form's values: the query's, a saved report's (`?from=NAME`), or a first count of the first source."""
    reports = runtime.blueprint.reports
    start = query.get("from", "")
    spec = reports.get(start)
    if spec is not None and spec.kind == "table" and "source" not in query and may_run(runtime.records, actor, spec):
        return form_from_spec(start, spec)  # only a report the role is offered: its definition is not shown to others
    form = dict(query.items())
    if not form.get("source"):
        sources = design_sources(runtime.records, actor)
        form.setdefault("source", sources[0] if sources else "")
        form.setdefault("m0_name", "records")
        form.setdefault("m0_agg", "count")
    return form


def evaluate(
    runtime: Runtime,
    actor: Actor,
    name: str,
    data: dict[str, Any],
    params: Mapping[str, Any],
    offset: int = 0,
    limit: int = PAGE_ROWS,
) -> Outcome:
    """Check the draft like `crm validate`, then run it as `actor` (rights, row filters, small cells, audit)."""
    service = runtime.records
    spec, problems = check_draft(service, runtime.blueprint.roles, name, data)
    outcome = Outcome(name, data, spec, problems)
    if spec is None:
        return outcome
    if spec.source not in design_sources(service, actor):
        outcome.problems.append(
            DraftProblem("source", "source", "forbidden", f"role `{actor.role}` may not report on {spec.source}")
        )
        return outcome
    try:
        outcome.result = run_draft_as(
            service, spec, actor, dict(params), name=name, today=today_of(service), offset=offset, limit=limit
        )
    except PermissionDenied as exc:
        outcome.problems.append(DraftProblem("general", "report", "forbidden", str(exc)))
    except ReportError as exc:
        outcome.problems.append(DraftProblem("general", "report", "invalid", str(exc)))
    return outcome


def _choices(runtime: Runtime, actor: Actor, form: Mapping[str, str], outcome: Outcome) -> dict[str, Any]:
    """The labelled options of every select on the page, in the viewer's language."""
    service, locale = runtime.records, actor.locale
    source = form.get("source", "")
    paths = path_choices(service, actor, source, locale)
    spec = outcome.spec
    text = partial(translate, locale=locale)
    labels = {p.path: p.label for p in paths}
    dims = []
    for dimension in spec.dimensions if spec else []:
        label = labels.get(dimension.field, dimension.field)
        dims.append((dimension.key, f"{label} · {text(f'designer.bucket.{dimension.by}')}" if dimension.by else label))
    measures = list(spec.measures) if spec else list(outcome.data.get("measures") or {})
    return {
        "sources": [(e, entity_label(service, e, locale)) for e in design_sources(service, actor)],
        "paths": [(p.path, p.label) for p in paths],
        "date_paths": [(p.path, p.label) for p in paths if p.type in ("date", "datetime")],
        "buckets": [(b, text(f"designer.bucket.{b}")) for b in TIME_BUCKETS + CYCLE_BUCKETS],
        "aggs": [(a, text(f"designer.agg.{a}")) for a in (*AGGREGATES, "expr")],
        "formats": [(f, text(f"designer.format.{f}")) for f in FORMATS],
        "periods": [(p, period_text(p, locale)) for p in PERIODS],
        "chart_types": [(c, text(f"designer.chart.{c}")) for c in CHART_TYPES],
        "dims": dims,
        "measure_names": [(m, m) for m in measures],
    }


def _total_rows(result: ReportResult | None) -> int:
    if result is None:
        return 0
    return result.total_rows if result.total_rows is not None else len(result.rows)


def _page(
    request: Request,
    runtime: Runtime,
    actor: Actor,
    form: Mapping[str, str],
    outcome: Outcome,
    *,
    saved: str = "",
    refused: list[str] | None = None,
    status: int = 200,
) -> Response:
    service = runtime.records
    view = None
    if outcome.result is not None and outcome.spec is not None:
        view = build_view(service, outcome.name, outcome.spec, outcome.result, actor.locale)
    context = {
        "form": form,
        "choices": _choices(runtime, actor, form, outcome),
        "problems": outcome.by_control(),
        "view": view,
        "chart_json": embedded_json(view.chart) if view and view.chart else None,
        "charts_available": charts_available(),
        "min_cell": outcome.spec.min_cell if outcome.spec else 5,
        "total_rows": _total_rows(outcome.result),
        "page_rows": PAGE_ROWS,
        "yaml": yaml_of(outcome.name, outcome.data),
        "may_save": actor.role == SAVER_ROLE,
        "saved": saved,
        "refused": refused or [],
        "dimension_slots": range(DIMENSION_SLOTS),
        "measure_slots": range(MEASURE_SLOTS),
    }
    return render(request, "designer.html", context, status_code=status)


def designer_routes(runtime: Runtime) -> list[BaseRoute]:
    """The designer's page and its save (before `/reports/{name}`, which would take `designer` as a name)."""
    service = runtime.records

    def allowed(request: Request) -> Actor:
        actor = require_actor(request)
        if not design_sources(service, actor):
            raise PermissionDenied(f"role `{actor.role}` may not design reports")
        return actor

    async def page(request: Request) -> Response:
        actor = allowed(request)
        if request.method == "POST":  # the form's Preview: a POST, so the CSRF token never lands in a URL
            form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
        else:
            form = _starting_form(runtime, actor, request.query_params)
        name, data = draft_from_form(form)
        outcome = await run_in_threadpool(evaluate, runtime, actor, name, data, {})
        start = runtime.blueprint.reports.get(request.query_params.get("from", ""))
        if start is not None and start.kind != "table":
            refused = [translate("designer.not_table", actor.locale, name=request.query_params["from"])]
            return _page(request, runtime, actor, form, outcome, refused=refused, status=200)
        return _page(request, runtime, actor, form, outcome, status=200)

    async def save(request: Request) -> Response:
        actor = allowed(request)
        if actor.role != SAVER_ROLE:
            raise PermissionDenied(translate("designer.only_admin", actor.locale))
        form = {k: str(v) for k, v in (await request.form()).items() if k != "csrf_token"}
        name, data = draft_from_form(form)
        outcome = await run_in_threadpool(evaluate, runtime, actor, name, data, {})
        if outcome.problems:
            return _page(request, runtime, actor, form, outcome, status=422)
        text = yaml_of(name, data, entry=False)
        try:
            path = await run_in_threadpool(
                partial(
                    save_report,
                    runtime.engine,
                    actor,
                    runtime.project.blueprint_path,
                    name,
                    text,
                    existing=name in runtime.blueprint.reports,
                    replace=bool(form.get("replace")),
                    at=service.clock(),
                )
            )
        except SaveRefused as exc:
            return _page(request, runtime, actor, form, outcome, refused=[str(exc), *exc.problems], status=409)
        saved = f"reports/{path.name}"
        return _page(request, runtime, actor, form, outcome, saved=saved)

    return [
        Route("/reports/designer", page, methods=["GET", "POST"], name="report_designer"),
        Route("/reports/designer/save", save, methods=["POST"], name="report_designer_save"),
    ]


def _body_draft(body: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """`{"name", "report": {...}, "params"}`, or a bare report spec: the name, the spec's data, the parameters."""
    if not isinstance(body, dict):
        raise ApiError(400, [FieldError("body", "invalid", "the body is a JSON object: a report spec")])
    if "report" in body and isinstance(body["report"], dict):
        name, data, params = body.get("name") or "draft", body["report"], body.get("params") or {}
        if not isinstance(name, str) or not isinstance(params, dict):
            raise ApiError(400, [FieldError("body", "invalid", "`name` is a text and `params` an object")])
        return name, data, params
    return "draft", body, {}


def preview_routes(runtime: Runtime) -> list[BaseRoute]:
    """`POST /api/reports/preview`: a draft's result as `GET /api/reports/{name}` answers, or 422 with its problems."""
    service = runtime.records

    async def preview(request: Request) -> Response:
        actor = require_actor(request)
        if not design_sources(service, actor):
            raise PermissionDenied(f"role `{actor.role}` may not design reports")
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            raise ApiError(400, [FieldError("body", "invalid_json", "the body is not JSON")]) from None
        name, data, params = _body_draft(body)
        offset, limit = paging(request.query_params)
        outcome = await run_in_threadpool(evaluate, runtime, actor, name, data, params, offset, limit)
        if outcome.problems or outcome.result is None or outcome.spec is None:
            errors = [FieldError(p.field, p.code, p.message) for p in outcome.problems]
            raise ApiError(422, errors or [FieldError("report", "invalid", "the draft could not be run")])
        return JSONResponse(result_json(runtime, name, outcome.spec, outcome.result, actor.locale, offset, limit))

    return [Route("/reports/preview", preview, methods=["POST"], name="api_report_preview")]
