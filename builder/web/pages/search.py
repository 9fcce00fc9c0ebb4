"""The search results page (`/search?q=…`), the target of the header's search box and of `/` on the keyboard.

Groups by entity in the viewer's language, each record by its title with the fields
that matched shown as the viewer may see them (masked values stay masked), linking
to the record; "more" opens the entity's own list with the same `q`. The search is
`records/global_search.py`: the same strategies, limits and audit as a list.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, RecordService
from builder.records.global_search import SearchGroup, search_everything
from builder.runtime import Runtime

from ..context import require_actor
from ..i18n import register_texts
from ..presenting import display, entity_title, field_label, record_title
from ..rendering import render

SEARCH_PAGE = "/search"

register_texts(
    {
        "search.title": {"en": "Search", "zh-CN": "搜索"},
        "search.label": {"en": "Search everything", "zh-CN": "全局搜索"},
        "search.placeholder": {"en": "Name, phone, last 4 digits, ID…", "zh-CN": "姓名、手机号、尾号4位、身份证号…"},
        "search.button": {"en": "Search", "zh-CN": "搜索"},
        "search.hint": {
            "en": "Press / anywhere to search. A whole phone number or ID finds the record exactly.",
            "zh-CN": "在任意页面按 / 即可搜索。输入完整手机号或身份证号可精确查找。",
        },
        "search.none": {"en": "Nothing found for “{q}”.", "zh-CN": "没有找到与“{q}”相关的记录。"},
        "search.more": {"en": "More in {entity}", "zh-CN": "在{entity}中查看更多"},
    }
)


def _groups(service: RecordService, actor: Actor, groups: list[SearchGroup], q: str) -> list[dict[str, Any]]:
    """What the page shows: labels in the viewer's locale, never raw codes."""
    shown = []
    for group in groups:
        entity = service.entity(group.entity)
        title_field = entity.spec.title_field
        items = []
        locale = actor.locale
        for record in group.items:
            details = [
                {"label": field_label(entity.fields[n], locale), "value": display(entity.fields[n], v, locale)}
                for n, v in record.items()
                if n in entity.fields and n != title_field and v not in (None, "", [])
            ]
            items.append({"id": record["id"], "title": record_title(entity, record), "details": details})
        shown.append(
            {
                "entity": entity.name,
                "title": entity_title(entity, actor.locale),
                "records": items,
                "more": group.more,
            }
        )
    return shown


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records

    async def search_page(request: Request) -> Response:
        actor = require_actor(request)
        q = (request.query_params.get("q") or "").strip()
        groups = await run_in_threadpool(search_everything, service, actor, q) if q else []
        shown = await run_in_threadpool(_groups, service, actor, groups, q)
        return render(request, "search.html", {"q": q, "groups": shown})

    return [Route(SEARCH_PAGE, search_page, methods=["GET"], name="search")]
