"""The main menu: the blueprint's `app.menu` (or a default) for one user, its current place marked.

An entry shows only when the user may open it: an entity its role may read, a
report it may run, a dashboard shown to it, a page it may see (tasks, inbox,
review queue, the admin's audit, outbox and import pages). Pages the app has but
a declared menu leaves out are added in a last group, so nothing the header used
to offer is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from builder.navigation_spec import MenuGroupSpec, MenuItemSpec, Page
from engines.forms import localized

from .audit_pages import AUDIT_ROLES
from .i18n import register_texts, translate
from .outbox_pages import OUTBOX_ROLES
from .presenting import entity_title

register_texts(
    {
        "menu.open": {"en": "Menu", "zh-CN": "菜单"},
        "menu.waiting": {"en": "{count} waiting in the menu", "zh-CN": "菜单中有 {count} 项待处理"},
        "menu.records": {"en": "Records", "zh-CN": "记录"},
        "menu.work": {"en": "Work", "zh-CN": "工作"},
        "menu.admin": {"en": "Administration", "zh-CN": "管理"},
        "menu.more": {"en": "More", "zh-CN": "更多"},
        "app.dashboards": {"en": "Dashboards", "zh-CN": "看板"},
    }
)

PAGE_TEXTS = {
    "home": "app.home",
    "tasks": "app.tasks",
    "inbox": "app.inbox",
    "reports": "app.reports",
    "dashboards": "app.dashboards",
    "review": "review.title",
    "audit": "app.audit",
    "outbox": "app.outbox",
    "import": "app.import",
}
WORK_PAGES: tuple[Page, ...] = ("tasks", "inbox", "reports", "review")
ADMIN_PAGES: tuple[Page, ...] = ("audit", "outbox", "import")
IMPORT_ROLES = ("admin",)


@dataclass
class MenuEntry:
    label: str
    href: str
    current: bool = False
    badge: int = 0
    kind: str = ""  # the page's name (tasks, inbox…), for a test or a style


@dataclass
class MenuGroup:
    label: str
    entries: list[MenuEntry] = field(default_factory=list)


class MenuContext:
    """What deciding the entries needs for one request: who, where, and the app's parts."""

    def __init__(self, runtime: Any, actor: Any, path: str, locale: str, reviews: bool, tasks: int | None):
        self.runtime, self.actor, self.path, self.locale = runtime, actor, path, locale
        self.reviews, self.tasks = reviews, tasks

    def page_allowed(self, page: str) -> bool:
        role = self.actor.role
        return {
            "home": True,
            "tasks": self.tasks is not None,
            "inbox": self.actor.id is not None,
            "reports": True,
            "dashboards": any(role in b.roles for b in self.runtime.blueprint.dashboards.values()),
            "review": self.reviews,
            "audit": role in AUDIT_ROLES,
            "outbox": role in OUTBOX_ROLES,
            "import": role in IMPORT_ROLES,
        }[page]


def _page_href(page: str) -> str:
    return "/" if page == "home" else f"/{page}"


def _entry(ctx: MenuContext, item: MenuItemSpec, unread: Any) -> MenuEntry | None:
    """The entry for `item`, or None when this user may not open it."""
    blueprint, service, locale = ctx.runtime.blueprint, ctx.runtime.records, ctx.locale
    label = localized(item.label, locale, "") if item.label else ""
    if item.entity is not None:
        entity = service.entities.get(item.entity)
        if entity is None or not service.policy.grant(ctx.actor, item.entity).readable:
            return None
        return MenuEntry(label or entity_title(entity, locale), f"/records/{item.entity}", kind=item.entity)
    if item.report is not None:
        from .reports.running import may_run

        spec = blueprint.reports.get(item.report)
        if spec is None or not may_run(service, ctx.actor, spec):
            return None
        return MenuEntry(label or localized(spec.title, locale, item.report), f"/reports/{item.report}")
    if item.dashboard is not None:
        board = blueprint.dashboards.get(item.dashboard)
        if board is None or ctx.actor.role not in board.roles:
            return None
        return MenuEntry(label or localized(board.title, locale, item.dashboard), f"/dashboards/{item.dashboard}")
    page = item.page or "home"
    if not ctx.page_allowed(page):
        return None
    badge = (ctx.tasks or 0) if page == "tasks" else (unread() if page == "inbox" else 0)
    return MenuEntry(label or translate(PAGE_TEXTS[page], locale), _page_href(page), badge=badge, kind=page)


def default_menu(ctx: MenuContext) -> list[tuple[str, list[MenuItemSpec]]]:
    """Every entity the role may read, then its work pages and dashboards, then the admin's pages."""
    boards = [n for n, b in ctx.runtime.blueprint.dashboards.items() if ctx.actor.role in b.roles]
    work = [MenuItemSpec(page=p) for p in WORK_PAGES] + [MenuItemSpec(dashboard=b) for b in boards]
    records = [MenuItemSpec(entity=n) for n in ctx.runtime.records.entities]
    return [
        (translate("menu.records", ctx.locale), records),
        (translate("menu.work", ctx.locale), work),
        (translate("menu.admin", ctx.locale), [MenuItemSpec(page=p) for p in ADMIN_PAGES]),
    ]


def _mark_current(groups: list[MenuGroup], path: str) -> None:
    """The entry whose address is the longest prefix of `path` is where the user is (aria-current)."""
    best: MenuEntry | None = None
    for group in groups:
        for entry in group.entries:
            href = entry.href
            here = path == href or (href != "/" and path.startswith(href + "/"))
            if here and (best is None or len(href) > len(best.href)):
                best = entry
    if best is not None:
        best.current = True


def build_menu(ctx: MenuContext, unread: Any) -> list[MenuGroup]:
    """The menu this user sees: declared groups (or the default), then pages a declared menu left out."""
    declared: list[MenuGroupSpec] | None = ctx.runtime.blueprint.app.menu
    specs = (
        [(localized(g.label, ctx.locale, "") if g.label else "", g.items) for g in declared]
        if declared is not None
        else default_menu(ctx)
    )
    groups = []
    for label, items in specs:
        entries = [e for e in (_entry(ctx, item, unread) for item in items) if e is not None]
        if entries:
            groups.append(MenuGroup(label, entries))
    if declared is not None:
        named = {item.page for spec in declared for item in spec.items}
        left_out = [MenuItemSpec(page=p) for p in (*WORK_PAGES, *ADMIN_PAGES) if p not in named]
        entries = [e for e in (_entry(ctx, item, unread) for item in left_out) if e is not None]
        if entries:
            groups.append(MenuGroup(translate("menu.more", ctx.locale), entries))
    _mark_current(groups, ctx.path)
    return groups
