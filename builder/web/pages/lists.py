"""The list page of an entity: search, filters, sortable headers, pages, export."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.locales import count_text
from builder.records import PermissionDenied, ValidationFailed
from builder.runtime import Runtime

from ..api.params import BadParameters, parse_list_params
from ..context import require_actor
from ..i18n import register_texts
from ..presenting import display, entity_title, link_titles, record_title
from ..rendering import render
from .bulk import bulk_moves
from .common import entity_of
from .list_controls import columns_with_sort, filter_controls, list_columns, with_query
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
        errors: list[str] = []
        items, total, offset, more = [], "0", 0, False
        try:
            params = parse_list_params(
                entity, request.query_params, actor.locale, default_limit=PAGE_SIZE, ignore=("deleted",)
            )
            shown = [*list_columns(entity, grant), *([entity.spec.title_field] if entity.spec.title_field else [])]
            page = await run_in_threadpool(service.list, actor, entity.name, **params.as_kwargs(), fields=shown)
            items, offset, more = page.items, page.offset, page.next_after is not None
            total = count_text(page.total, page.total_kind, actor.locale)
            limit = page.limit or PAGE_SIZE
        except (BadParameters, ValidationFailed) as exc:
            errors = [f"{e.field}: {e.message}" for e in exc.errors]
            limit = PAGE_SIZE
        names = list_columns(entity, grant)
        titles = await run_in_threadpool(link_titles, service, actor, entity, items)
        rows = [
            {
                "id": item["id"],
                "title": record_title(entity, item),
                "cells": [display(entity.fields[n], item.get(n), actor.locale, titles) for n in names],
            }
            for item in items
        ]
        filters = await run_in_threadpool(filter_controls, service, actor, entity, grant, query)
        searchable = [entity.fields[n] for n in entity.spec.search if n in grant.readable and n in entity.fields]
        from ..presenting import field_label

        export_query = {k: v for k, v in query.items() if k not in ("limit", "offset", "deleted")}
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
            "previous_url": with_query(base, query, offset=max(offset - limit, 0) or None, deleted=None)
            if offset > 0
            else None,
            "next_url": with_query(base, query, offset=offset + limit, deleted=None) if limit and more else None,
            "export_url": with_query(f"/api/{entity.name}/export.csv", export_query) if grant.export else None,
            "deleted": query.get("deleted") == "1",
            "bulk_buttons": manual_buttons(service, actor, entity) if rows else [],
            "bulk_moves": bulk_moves(service, actor, entity) if rows else [],
            "versions": {item["id"]: item["version"] for item in items},
        }
        return render(request, "list.html", context, status_code=400 if errors else 200)

    return [Route("/records/{entity}", list_page, methods=["GET"], name="list")]
