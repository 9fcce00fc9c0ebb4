"""The calendar view of an entity with a start and a length (`views: calendar: {start, minutes, group_by}`).

`/records/{entity}/calendar?day=2026-12-01&mode=day|week`: a day shows a column per
group (per doctor), a week seven days from the given one (today by default, so today
comes first). The visible range is read with one list query (`start >= first day` and
`< last day + 1`, on the start's index; keyset pages of 500 when a week holds more, up
to MAX_CARDS), through the record service: the role's row
filter applies (a doctor sees their own), fields it may not read are not shown, the
read is audited like any list. Times are the app's timezone (datetimes are stored in
it). Moving a card (drag, or the "Move to…" form without script) is an update with the
version read, so the blueprint's own rules (the overlap rule: no double booking) and
the optimistic lock decide, and their message is what the user sees.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from builder.records import Actor, PermissionDenied, RecordError, RecordService, ValidationFailed
from builder.records.compiled import CompiledEntity
from builder.records.querying import MAX_LIMIT
from builder.records.transitions import driven_fields
from builder.runtime import Runtime
from engines.forms import ViewSpec

from ..context import require_actor
from ..i18n import register_texts, translate
from ..presenting import display, entity_title, field_label, link_titles, record_title
from ..rendering import render
from ..writes import run_write
from .choices import SELECT_LIMIT
from .common import entity_of, record_id_of, submitted_form
from .lists import view_links
from .view_moves import moved, problems_of, refused_json, state_label, wants_json

register_texts(
    {
        "cal.day": {"en": "Day", "zh-CN": "日"},
        "cal.week": {"en": "Week", "zh-CN": "周"},
        "cal.today": {"en": "Today", "zh-CN": "今天"},
        "cal.previous": {"en": "Earlier", "zh-CN": "向前"},
        "cal.next": {"en": "Later", "zh-CN": "向后"},
        "cal.none": {"en": "Nothing booked.", "zh-CN": "暂无预约。"},
        "cal.no_group": {"en": "Not assigned", "zh-CN": "未分配"},
        "cal.move": {"en": "Move to…", "zh-CN": "移动到…"},
        "cal.move_submit": {"en": "Move", "zh-CN": "移动"},
        "cal.back": {"en": "Back to the calendar", "zh-CN": "返回日历"},
        "cal.drag_hint": {
            "en": "Drag a card to another time or column, or use “Move to…” on the card.",
            "zh-CN": "拖动卡片到其他时间或列,或使用卡片上的“移动到…”。",
        },
        "cal.truncated": {
            "en": "Only the first {limit} are shown; choose a day.",
            "zh-CN": "仅显示前 {limit} 条,请选择某一天查看。",
        },
    }
)

WEEKDAYS = {
    "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    "zh-CN": ["周一", "周二", "周三", "周四", "周五", "周六", "周日"],
}
FIRST_HOUR, LAST_HOUR = 8, 18  # the day grid's default span, widened to fit every card
SLOT_MINUTES = 15
DEFAULT_MINUTES = 30
MAX_CARDS = 2000  # a week of 10 doctors fully booked at 20 minutes is 1,680


@dataclass
class Card:
    id: int
    version: int
    title: str
    time: str
    start: str  # datetime-local value
    minutes: int
    top: int  # minutes from the grid's first hour
    lines: list[str]
    state: str
    color: str
    group: str
    movable: bool
    href: str = ""  # the record's page
    move: str = ""  # its move page (and the drag's target), set by the page that knows the calendar's URL

    def html(self, move_label: str) -> Markup:
        """The card's markup. Written here, not in calendar.html: a week draws 1,260 cards, and the
        template's per-value attribute lookup and escaping cost more than everything else on the page;
        here each text is escaped once (titles, lines, labels) and numbers need none."""
        e = escape
        move = f' data-move="{e(self.move)}" draggable="true"' if self.movable else ""
        lines = "".join(f'<p class="cal-line">{e(line)}</p>' for line in self.lines)
        if self.movable:
            lines += f'<p class="cal-line"><a class="cal-move-link" href="{e(self.move)}">{e(move_label)}</a></p>'
        color = e(self.color)
        return Markup(
            f'<article class="cal-card" data-id="{self.id}" data-version="{self.version}" data-top="{self.top}" '
            f'data-len="{self.minutes}" data-color="{color}" data-start="{e(self.start)}"{move}>'
            f'<p class="cal-time"><time datetime="{e(self.start)}">{e(self.time)}</time> · {self.minutes}′ '
            f'<span class="state" data-color="{color}">{e(self.state)}</span></p>'
            f'<p class="cal-title"><a href="{e(self.href)}">{e(self.title)}</a></p>{lines}</article>'
        )


@dataclass
class Column:
    key: str  # the group value ("" when none) or the day (YYYY-MM-DD) in a week
    label: str
    day: str
    cards: list[Card] = field(default_factory=list)
    today: bool = False


def calendar_view(entity: CompiledEntity, name: str | None) -> tuple[str, ViewSpec]:
    views = {n: v for n, v in entity.spec.views.items() if v.kind(n) == "calendar"}
    if not views:
        raise HTTPException(404)
    if name and name in views:
        return name, views[name]
    return next(iter(views.items()))


def parse_day(raw: str | None, today: dt.date) -> dt.date:
    if not raw:
        return today
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        raise HTTPException(400, "day must be a date (YYYY-MM-DD)") from None
    if not 1900 <= day.year <= 9000:  # a week either side must still be a date
        raise HTTPException(400, "day must be a date between 1900 and 9000")
    return day


def _state_source(service: RecordService, entity: CompiledEntity, readable: Any) -> tuple[str | None, Any]:
    """The field whose label and colour a card shows (the first readable state or select) and its workflow."""
    for name, f in entity.fields.items():
        if f.spec.type in ("state", "select") and name in readable:
            machine = driven_fields(service.flows, entity.name).get(name) if f.spec.type == "state" else None
            return name, machine
    return None, None


def _state_of(
    entity: CompiledEntity, name: str | None, machine: Any, record: dict[str, Any], locale: str
) -> tuple[str, str]:
    """The card's state label and its workflow colour (gray without one)."""
    value = record.get(name) if name else None
    if name is None or value is None:
        return "", "gray"
    if machine is not None:
        state = machine.spec.states.get(value)
        return state_label(machine, value, locale), getattr(state, "color", None) or "gray"
    f = entity.fields[name]
    return f.kind.option_label(value, f.spec, locale), "gray"


def _groups(
    service: RecordService, actor: Actor, entity: CompiledEntity, view: ViewSpec, locale: str
) -> list[tuple[str, str]]:
    """(value, label) of every group to show a column for, before the records' own."""
    if not view.group_by:
        return []
    f = entity.fields[view.group_by]
    if f.spec.type in ("select", "state"):
        return [(o, f.kind.option_label(o, f.spec, locale)) for o in f.spec.options or []]
    if f.spec.type == "link" and f.spec.to:
        target = service.entities[f.spec.to]
        title = target.spec.title_field
        try:
            page = service.list(
                actor,
                target.name,
                sort=title or "id",
                limit=SELECT_LIMIT + 1,
                fields=[title] if title else [],
                count="none",
            )
        except (PermissionDenied, ValidationFailed):
            return []
        if len(page.items) <= SELECT_LIMIT:  # more (a hospital's staff): only the groups that have records
            return [(str(item["id"]), record_title(target, item)) for item in page.items]
    return []


def build_calendar(
    service: RecordService, actor: Actor, entity: CompiledEntity, view: ViewSpec, day: dt.date, mode: str
) -> dict[str, Any]:
    """The columns and cards of the visible range, from one bounded list query."""
    locale = actor.locale
    grant = service.policy.require(actor, entity.name, "read")
    start = view.start or ""
    if start not in grant.readable:
        raise PermissionDenied(f"role `{actor.role}` may not read `{start}`")
    days = 7 if mode == "week" else 1
    first = dt.datetime.combine(day, dt.time())
    last = first + dt.timedelta(days=days)
    state_name, machine = _state_source(service, entity, grant.readable)
    shown_lines = [
        n
        for n in (entity.spec.subtitle or [n for n in entity.fields if entity.fields[n].spec.type == "link"])
        if n in grant.readable and n != view.group_by and n in entity.fields
    ][:2]
    wanted = {start, view.minutes, view.group_by, state_name, entity.spec.title_field, *shown_lines}
    fields = [n for n in wanted if n and n in grant.readable]  # only what a card shows is read (and audited)
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:  # the range in keyset pages of the service's largest size (a busy week is one to four)
        page = service.list(
            actor,
            entity.name,
            filters={f"{start}__gte": first, f"{start}__lt": last},
            sort=f"{start},id",
            limit=MAX_LIMIT,
            count="none",
            after=after,
            fields=fields,
        )
        items.extend(page.items)
        if page.next_after is None or len(items) >= MAX_CARDS:
            break
        after = page.next_after
    titles = link_titles(service, actor, entity, items)
    group_field = entity.fields.get(view.group_by) if view.group_by and view.group_by in grant.readable else None
    minutes_field = view.minutes if view.minutes and view.minutes in grant.readable else None
    writable = view.start in grant.writable
    today = service.clock().date()
    href = f"/records/{entity.name}/"
    states: dict[Any, tuple[str, str]] = {}  # per value: a week repeats a handful of states 1,000 times
    cards: list[Card] = []
    for item in items:
        moment: dt.datetime | None = item.get(start)
        if moment is None:
            continue
        length = item.get(minutes_field) if minutes_field else None
        shown_state = item.get(state_name) if state_name else None
        if shown_state not in states:
            states[shown_state] = _state_of(entity, state_name, machine, item, locale)
        state, color = states[shown_state]
        group_value = item.get(group_field.name) if group_field is not None else None
        lines = [display(entity.fields[n], item.get(n), locale, titles) for n in shown_lines] or [""]
        stamp = moment.isoformat(timespec="minutes")  # 2026-06-01T09:20, the datetime-local value
        cards.append(
            Card(
                id=item["id"],
                version=item["version"],
                title=record_title(entity, item)
                if entity.spec.title_field
                else (lines[0] if lines else f"#{item['id']}"),
                time=stamp[11:16],
                start=stamp[:16],
                minutes=int(length) if isinstance(length, int) and length > 0 else DEFAULT_MINUTES,
                top=moment.hour * 60 + moment.minute,  # minutes from midnight until the grid's first hour is known
                lines=[line for line in (lines[1:] if not entity.spec.title_field else lines) if line],
                state=state,
                color=color,
                group="" if group_value is None else str(group_value),
                movable=writable,
                href=f"{href}{item['id']}",
            )
        )
    low = min([FIRST_HOUR * 60, *[c.top for c in cards]])
    high = max([LAST_HOUR * 60, *[c.top + c.minutes for c in cards]])
    first_hour, last_hour = low // 60, min(24, -(-high // 60))
    for card in cards:
        card.top -= first_hour * 60
    names = WEEKDAYS.get(locale, WEEKDAYS["en"])
    columns: list[Column] = []
    group_label = ""
    if mode == "week":
        by_day: dict[str, list[Card]] = {}
        for card in cards:
            by_day.setdefault(card.start[:10], []).append(card)
        for offset in range(7):
            date = day + dt.timedelta(days=offset)
            column = Column(
                date.isoformat(),
                f"{names[date.weekday()]} {date.strftime('%m-%d')}",
                date.isoformat(),
                today=date == today,
            )
            column.cards = by_day.get(date.isoformat(), [])
            columns.append(column)
        labels: dict[str, str] = {}
        for card in cards:
            if group_field is not None and card.group:
                if card.group not in labels:
                    labels[card.group] = display(
                        group_field,
                        int(card.group) if card.group.isdigit() and group_field.spec.type == "link" else card.group,
                        locale,
                        titles,
                    )
                if labels[card.group]:
                    card.lines = [labels[card.group], *card.lines]
    else:
        groups = _groups(service, actor, entity, view, locale) if group_field is not None else []
        group_label = field_label(group_field, locale) if group_field is not None else ""
        known = {value for value, _ in groups}
        for card in cards:
            if card.group and card.group not in known:
                value: Any = (
                    int(card.group) if group_field is not None and group_field.spec.type == "link" else card.group
                )
                groups.append((card.group, display(group_field, value, locale, titles) if group_field else card.group))
                known.add(card.group)
        if any(not c.group for c in cards) or not groups:
            groups.append(
                ("", translate("cal.no_group", locale) if group_field is not None else entity_title(entity, locale))
            )
        by_group: dict[str, list[Card]] = {}
        for card in cards:
            by_group.setdefault(card.group, []).append(card)
        for value, label in groups:
            column = Column(value, label, day.isoformat(), today=day == today)
            column.cards = by_group.get(value, [])
            columns.append(column)
    group_options = (
        _groups(service, actor, entity, view, locale)
        if group_field is not None and writable and view.group_by in grant.writable
        else []
    )
    return {
        "columns": columns,
        "cards": len(cards),
        "truncated": page.next_after is not None,
        "first_hour": first_hour,
        "hours": list(range(first_hour, last_hour)),
        "span": (last_hour - first_hour) * 60,
        "group_label": group_label,
        "group_options": group_options,
        "movable": writable,
        "slot": SLOT_MINUTES,
    }


def _group_text(group_field: Any, value: str, locale: str, titles: dict[tuple[str, int], str]) -> str:
    """A group's name: the linked record's title, or the option's label."""
    stored: Any = int(value) if group_field.spec.type == "link" and value.isdigit() else value
    return display(group_field, stored, locale, titles)


def routes(runtime: Runtime) -> list[BaseRoute]:
    service = runtime.records

    async def show(request: Request, errors: list[str] | None = None, status: int = 200) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        view_name, view = calendar_view(entity, request.query_params.get("view"))
        today = service.clock().date()
        day = parse_day(request.query_params.get("day"), today)
        mode = "week" if request.query_params.get("mode") == "week" else "day"
        built = await run_in_threadpool(build_calendar, service, actor, entity, view, day, mode)
        step = dt.timedelta(days=7 if mode == "week" else 1)
        base = f"/records/{entity.name}/calendar"
        suffix = f"&view={view_name}" if view_name != "calendar" else ""
        context = {
            **built,
            "entity": entity,
            "entity_title": entity_title(entity, actor.locale),
            "view_links": view_links(entity, None, actor.locale),
            "calendar_name": view_name,
            "day": day.isoformat(),
            "mode": mode,
            "base": base,
            "suffix": suffix,
            "here": f"{base}?day={day.isoformat()}&mode={mode}{suffix}",
            "previous_url": f"{base}?day={(day - step).isoformat()}&mode={mode}{suffix}",
            "next_url": f"{base}?day={(day + step).isoformat()}&mode={mode}{suffix}",
            "today_url": f"{base}?mode={mode}{suffix}",
            "day_url": f"{base}?day={day.isoformat()}&mode=day{suffix}",
            "week_url": f"{base}?day={day.isoformat()}&mode=week{suffix}",
            "errors": errors or [],
            "moved": request.query_params.get("moved"),
            "move_base": base,
            "move_query": urlencode({"day": day.isoformat(), "mode": mode, **({"view": view_name} if suffix else {})}),
            "start_field": view.start,
            "group_field": view.group_by,
            "limit": MAX_CARDS,
        }
        query = context["move_query"]
        for column in built["columns"]:
            for card in column.cards:
                card.move = f"{base}/{card.id}/move?{query}"
        return render(request, "calendar.html", context, status_code=status)

    async def page(request: Request) -> Response:
        return await show(request)

    async def move_page(
        request: Request, errors: list[str] | None = None, status: int = 200, typed: dict[str, str] | None = None
    ) -> Response:
        """The keyboard and no-script way to move one card: its time (and group) in a form."""
        actor = require_actor(request)
        entity = entity_of(service, request)
        record_id = record_id_of(request)
        view_name, view = calendar_view(entity, request.query_params.get("view"))
        try:
            record = await run_in_threadpool(service.get, actor, entity.name, record_id)
        except RecordError:
            raise HTTPException(404) from None
        grant = service.policy.grant(actor, entity.name)
        start = view.start or ""
        if start not in grant.writable or record.get(start) is None:
            raise HTTPException(403)
        locale = actor.locale
        state_name, machine = _state_source(service, entity, grant.readable)
        state, color = _state_of(entity, state_name, machine, record, locale)
        titles = await run_in_threadpool(link_titles, service, actor, entity, [record])
        lines = [
            display(entity.fields[n], record.get(n), locale, titles)
            for n, f in entity.fields.items()
            if f.spec.type == "link" and n in grant.readable
        ]
        group = record.get(view.group_by) if view.group_by else None
        length = record.get(view.minutes) if view.minutes else None
        card = {
            "title": record_title(entity, record) if entity.spec.title_field else (lines[0] if lines else ""),
            "start": record[start].strftime("%Y-%m-%dT%H:%M"),
            "minutes": length or DEFAULT_MINUTES,
            "state": state,
            "color": color,
            "lines": lines,
            "version": record["version"],
            "group": "" if group is None else str(group),
        }
        regroup = bool(view.group_by) and view.group_by in grant.writable
        options = await run_in_threadpool(_groups, service, actor, entity, view, locale) if regroup else []
        query = request.url.query
        back_query = {k: v for k, v in request.query_params.items() if k in ("day", "mode", "view")}
        context = {
            "entity": entity,
            "entity_title": entity_title(entity, locale),
            "card": card,
            "errors": errors or [],
            "action": f"/records/{entity.name}/calendar/{record_id}/move" + (f"?{query}" if query else ""),
            "back": f"/records/{entity.name}/calendar" + (f"?{urlencode(back_query)}" if back_query else ""),
            "start_label": field_label(entity.fields[start], locale),
            "group_label": field_label(entity.fields[view.group_by], locale) if view.group_by else "",
            "group_options": options,
            "starts_at": (typed or {}).get("starts_at", ""),
            "group": (typed or {}).get("group", ""),
            "slot": SLOT_MINUTES,
            "calendar_name": view_name,
        }
        return render(request, "calendar_move.html", context, status_code=status)

    async def move(request: Request) -> Response:
        actor = require_actor(request)
        entity = entity_of(service, request)
        record_id = record_id_of(request)
        form = await submitted_form(request)
        _, view = calendar_view(entity, str(form.get("view") or "") or None)
        values: dict[str, Any] = {}
        starts = str(form.get("starts_at", "")).strip()
        version_text = str(form.get("version", ""))
        typed = {"starts_at": starts, "group": str(form.get("group") or "")}
        if not starts or not version_text.isdigit() or len(version_text) > 12:
            reasons = [translate("views.bad_move", actor.locale)]
            return refused_json(422, reasons) if wants_json(request) else await move_page(request, reasons, 422, typed)
        values[view.start or ""] = starts
        group = form.get("group")
        if view.group_by and group is not None and str(group) != "":
            values[view.group_by] = str(group)
        try:
            record = await run_write(service, service.update, actor, entity.name, record_id, values, int(version_text))
        except RecordError as exc:
            status, reasons = problems_of(exc, entity, actor.locale)
            if status == 404:
                raise HTTPException(404) from None
            if wants_json(request):
                return refused_json(status, reasons)
            return await move_page(request, reasons, status, typed)
        back = str(form.get("back") or "")
        if not back.startswith(f"/records/{entity.name}/calendar"):
            back = f"/records/{entity.name}/calendar"
        return moved(request, back, record)

    return [
        Route("/records/{entity}/calendar", page, methods=["GET"], name="calendar"),
        Route("/records/{entity}/calendar/{record_id:int}/move", move_page, methods=["GET"], name="calendar_move_page"),
        Route("/records/{entity}/calendar/{record_id:int}/move", move, methods=["POST"], name="calendar_move"),
    ]
