"""The list page of an entity: its blueprint list view (columns, sort, page size, quick filters),
search, sortable headers, keyset pages with the service's totals, saved filters, export."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from builder.locales import count_text
from builder.records import PermissionDenied, ValidationFailed
from builder.records.saved_filters import SavedFilterRefused, clean_query, delete_saved, list_saved, save_filter
from builder.runtime import Runtime
from engines.forms import localized

from ..api.params import BadParameters, parse_list_params
from ..context import require_actor
from ..i18n import register_texts, translate
from ..presenting import display, entity_title, link_titles, record_title
from ..rendering import render
from .bulk import bulk_moves
from .bulk_update import bulk_bar
from .common import entity_of, submitted_form
from .list_controls import columns_with_sort, filter_controls, list_columns, list_view, with_query
from .workflow_panels import manual_buttons

PAGE_SIZE = 25

register_texts(
    {
        "list.search": {"en": "Search", "zh-CN": "搜索"},
        "list.search_placeholder": {"en": "Search by {fields}", "zh-CN": "按{fields}搜索"},
        "list.filter": {"en": "Filter", "zh-CN": "筛选"},
        "list.clear": {"en": "Clear", "zh-CN": "清除"},
        "list.any": {"en": "Any", "zh-CN": "全部"},
        "list.from": {"en": "from", "zh-CN": "从"},
        "list.to": {"en": "to", "zh-CN": "至"},
        "list.new": {"en": "New {entity}", "zh-CN": "新建{entity}"},
        "list.export": {"en": "Export CSV", "zh-CN": "导出 CSV"},
        "list.empty": {"en": "No records match.", "zh-CN": "没有符合条件的记录。"},
        "list.count": {"en": "{first}–{last} of {total}", "zh-CN": "第 {first}–{last} 条,共 {total} 条"},
        "list.previous": {"en": "Previous", "zh-CN": "上一页"},
        "list.next": {"en": "Next", "zh-CN": "下一页"},
        "list.open": {"en": "Open", "zh-CN": "打开"},
        "list.deleted": {"en": "The record was deleted.", "zh-CN": "记录已删除。"},
        "list.bad_query": {"en": "This search could not be run:", "zh-CN": "无法执行此搜索:"},
        "list.sorted_asc": {"en": "sorted ascending", "zh-CN": "升序"},
        "list.sorted_desc": {"en": "sorted descending", "zh-CN": "降序"},
        "list.first": {"en": "First page", "zh-CN": "第一页"},
        "list.today": {"en": "Today", "zh-CN": "今天"},
        "list.this_week": {"en": "This week", "zh-CN": "本周"},
        "list.next_7_days": {"en": "Next 7 days", "zh-CN": "未来 7 天"},
        "list.this_month": {"en": "This month", "zh-CN": "本月"},
        "list.views": {"en": "Views", "zh-CN": "视图"},
        "list.view_list": {"en": "List", "zh-CN": "列表"},
        "list.view_calendar": {"en": "Calendar", "zh-CN": "日历"},
        "list.view_kanban": {"en": "Board", "zh-CN": "看板"},
        "list.saved": {"en": "Saved filters", "zh-CN": "已保存的筛选"},
        "list.save_filter": {"en": "Save this filter", "zh-CN": "保存此筛选"},
        "list.filter_name": {"en": "Name", "zh-CN": "名称"},
        "list.delete_filter": {"en": "Delete {name}", "zh-CN": "删除 {name}"},
        "list.filter_saved": {"en": "Filter saved.", "zh-CN": "筛选已保存。"},
        "list.saved_no_user": {"en": "Only a signed-in user can save filters.", "zh-CN": "只有登录用户可以保存筛选。"},
        "list.saved_bad_name": {
            "en": "Give the filter a name (up to 80 characters).",
            "zh-CN": "请为筛选命名(最多 80 个字符)。",
        },
        "list.saved_too_long": {"en": "This filter is too long to save.", "zh-CN": "此筛选过长,无法保存。"},
        "list.saved_too_many": {
            "en": "You have 50 saved filters for this list; delete one first.",
            "zh-CN": "此列表已有 50 个保存的筛选,请先删除一个。",
        },
    }
)


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records

    async def list_page(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        grant = service.policy.grant(actor, entity.name)
        if not grant.readable:
            raise PermissionDenied(f"role `{actor.role}` may not read {entity.name} records")
        query = {k: v for k, v in request.query_params.items()}
        base = request.url.path
        chosen = list_view(entity, query.get("view"))
        view_name, view = chosen if chosen else (None, None)
        page_size = (view.page_size if view and view.page_size else None) or PAGE_SIZE
        names = list_columns(entity, grant, view)
        skip = int(query["skip"]) if query.get("skip", "").isdigit() and len(query["skip"]) < 10 else 0
        errors: list[str] = []
        items, total, offset, next_after = [], "0", 0, None
        try:
            params = parse_list_params(
                entity,
                request.query_params,
                actor.locale,
                default_limit=page_size,
                ignore=("deleted", "view", "skip", "saved"),
            )
            if params.sort is None and view is not None and view.sort:
                key = view.sort.removeprefix("-")
                if key in grant.readable or key in ("id", "created_at", "updated_at"):
                    params.sort = view.sort
            shown = [*names, *([entity.spec.title_field] if entity.spec.title_field else [])]
            page = await run_in_threadpool(service.list, actor, entity.name, **params.as_kwargs(), fields=shown)
            items, next_after = page.items, page.next_after
            offset = page.offset + (skip if params.after else 0)
            total = count_text(page.total, page.total_kind, actor.locale)
            limit = page.limit or page_size
        except (BadParameters, ValidationFailed) as exc:
            errors = [f"{e.field}: {e.message}" for e in exc.errors]
            limit = page_size
        titles = await run_in_threadpool(link_titles, service, actor, entity, items)
        rows = [
            {
                "id": item["id"],
                "title": record_title(entity, item),
                "cells": [display(entity.fields[n], item.get(n), actor.locale, titles) for n in names],
            }
            for item in items
        ]
        filters = await run_in_threadpool(filter_controls, service, actor, entity, grant, query, view, base, not errors)
        searchable = [entity.fields[n] for n in entity.spec.search if n in grant.readable and n in entity.fields]
        saved = await run_in_threadpool(list_saved, service.engine, actor, entity.name)
        from ..presenting import field_label

        export_query = {k: v for k, v in query.items() if k not in ("limit", "offset", "deleted", "after", "skip")}
        paging = {"offset": None, "after": None, "skip": None, "deleted": None, "saved": None}
        if next_after and not query.get("offset"):  # keyset: the next page seeks past the last row shown
            next_url = with_query(base, query, **{**paging, "after": next_after, "skip": offset + limit})
        elif next_after:
            next_url = with_query(base, query, **{**paging, "offset": offset + limit})
        else:
            next_url = None
        if query.get("after"):
            previous_url, previous_key = with_query(base, query, **paging), "list.first"
        elif offset > 0:
            previous_url = with_query(base, query, **{**paging, "offset": max(offset - limit, 0) or None})
            previous_key = "list.previous"
        else:
            previous_url, previous_key = None, "list.previous"
        context = {
            "entity": entity,
            "entity_title": entity_title(entity, actor.locale),
            "grant": grant,
            "columns": columns_with_sort(entity, names, base, query, actor.locale),
            "rows": rows,
            "filters": filters,
            "query": query,
            "errors": errors,
            "total": total,
            "offset": offset,
            "limit": limit,
            "search_fields": ", ".join(field_label(f, actor.locale) for f in searchable),
            "previous_url": previous_url,
            "previous_key": previous_key,
            "next_url": next_url,
            "export_url": with_query(f"/api/{entity.name}/export.csv", export_query) if grant.export else None,
            "deleted": query.get("deleted") == "1",
            "saved_notice": query.get("saved") == "1",
            "bulk_buttons": manual_buttons(service, actor, entity) if rows else [],
            "bulk_moves": bulk_moves(service, actor, entity) if rows else [],
            "versions": {item["id"]: item["version"] for item in items},
            **(bulk_bar(service, actor, entity, grant) if rows else {}),
            "view_links": view_links(entity, view_name, actor.locale),
            "view_name": view_name,
            "saved_filters": [
                {"id": f.id, "name": f.name, "url": f"{base}?{f.query}" if f.query else base} for f in saved
            ],
            "current_filter": "" if errors else clean_query(urlencode(query)),  # a refused query is never echoed
        }
        return render(request, "list.html", context, status_code=400 if errors else 200)

    async def save(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        service.policy.require(actor, entity.name, "read")
        form = await submitted_form(request)
        query = str(form.get("query", ""))
        try:
            await run_in_threadpool(
                save_filter, service.engine, actor, entity.name, str(form.get("name", "")), query, service.clock()
            )
        except SavedFilterRefused as exc:
            return render(
                request,
                "error.html",
                {"status": 422, "message": translate(f"list.saved_{exc.code}", actor.locale)},
                status_code=422,
            )
        target = f"/records/{entity.name}?{clean_query(query)}&saved=1".replace("?&", "?")
        return RedirectResponse(target, status_code=303)

    async def delete(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        filter_id = request.path_params["filter_id"]
        if not await run_in_threadpool(delete_saved, service.engine, actor, entity.name, filter_id):
            raise HTTPException(404)
        return RedirectResponse(f"/records/{entity.name}", status_code=303)

    return [
        Route("/records/{entity}", list_page, methods=["GET"], name="list"),
        Route("/records/{entity}/filters", save, methods=["POST"], name="save_filter"),
        Route("/records/{entity}/filters/{filter_id:int}/delete", delete, methods=["POST"], name="delete_filter"),
    ]


def view_links(entity: Any, current: str | None, locale: str) -> list[dict[str, Any]]:
    """Links to the entity's other views (named lists, calendar, board): shown when there is more than one."""
    links = []
    for name, view in entity.spec.views.items():
        kind = view.kind(name)
        url = f"/records/{entity.name}" + ("" if kind == "list" and name == "list" else f"?view={name}")
        if kind != "list":
            url = f"/records/{entity.name}/{kind}" + ("" if name == kind else f"?view={name}")
        label = localized(view.title, locale, "") or translate(f"list.view_{kind}", locale)
        if kind == "list" and name != "list" and not view.title:
            label = name.replace("_", " ").capitalize()
        links.append({"url": url, "label": label, "current": kind == "list" and name == current})
    return links if len(links) > 1 or any(not link["current"] for link in links) else []
