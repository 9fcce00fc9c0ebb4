"""How an audit entry reads to a person: local time, labels instead of codes, "empty" instead of None.

The trail stores codes (`login_failed`, `front_desk`, `stage: ["lead", "active"]`) in
UTC; the page shows the app's timezone, the blueprint's titles and option labels,
and the interface's words for actions. An action nobody registered words for (a
new kind of entry) still reads as words: `lookup_alert` becomes "Lookup alert".
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engines.forms import localized

from .i18n import register_texts, translate

register_texts(
    {
        "audit.action.create": {"en": "Created", "zh-CN": "新建"},
        "audit.action.update": {"en": "Changed", "zh-CN": "修改"},
        "audit.action.delete": {"en": "Deleted", "zh-CN": "删除"},
        "audit.action.transition": {"en": "Workflow step", "zh-CN": "流程操作"},
        "audit.action.automation": {"en": "Ran an automation", "zh-CN": "执行自动化"},
        "audit.action.bulk_update": {"en": "Changed selected records", "zh-CN": "批量修改"},
        "audit.action.view": {"en": "Viewed", "zh-CN": "查看"},
        "audit.action.list": {"en": "Listed", "zh-CN": "列表查看"},
        "audit.action.search": {"en": "Searched", "zh-CN": "搜索"},
        "audit.action.lookup": {"en": "Looked up", "zh-CN": "查找"},
        "audit.action.explain": {"en": "Explained", "zh-CN": "查看计算说明"},
        "audit.action.export": {"en": "Exported", "zh-CN": "导出"},
        "audit.action.report": {"en": "Ran a report", "zh-CN": "运行报表"},
        "audit.action.view_outbox": {"en": "Viewed the outbox", "zh-CN": "查看发送队列"},
        "audit.action.view_inbox": {"en": "Viewed the inbox", "zh-CN": "查看消息"},
        "audit.action.alert": {"en": "Alert", "zh-CN": "警报"},
        "audit.action.login": {"en": "Signed in", "zh-CN": "登录"},
        "audit.action.login_failed": {"en": "Sign-in failed", "zh-CN": "登录失败"},
        "audit.action.logout": {"en": "Signed out", "zh-CN": "退出登录"},
        "audit.value.empty": {"en": "empty", "zh-CN": "空"},
        "audit.value.yes": {"en": "yes", "zh-CN": "是"},
        "audit.value.no": {"en": "no", "zh-CN": "否"},
        "audit.value.changed": {"en": "changed (value not recorded)", "zh-CN": "已修改(不记录内容)"},
        "audit.times_in": {"en": "Times in {zone}", "zh-CN": "时间按 {zone} 显示"},
        "audit.value.rows": {"en": "{count} rows", "zh-CN": "{count} 行"},
    }
)


def app_zone(blueprint: Any) -> dt.tzinfo:
    """The blueprint's timezone (UTC when it names none or an unknown one)."""
    name = getattr(getattr(blueprint, "app", None), "timezone", None)
    try:
        return ZoneInfo(name) if name else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _words(code: str) -> str:
    return code.replace("_", " ").strip().capitalize() or code


def action_label(action: str, locale: str) -> str:
    key = f"audit.action.{action}"
    text = translate(key, locale)
    return _words(action) if text == key else text


def role_label(blueprint: Any, role: str | None, locale: str) -> str:
    if not role:
        return ""
    spec = blueprint.roles.get(role)
    if spec is None and translate(f"audit.role.{role}", locale) != f"audit.role.{role}":
        return translate(f"audit.role.{role}", locale)  # an actor of the app's own (`public`)
    return localized(spec.title, locale, role) if spec is not None and spec.title else role


def entity_label(blueprint: Any, entity: str | None, locale: str) -> str:
    spec = blueprint.entities.get(entity) if entity else None
    return localized(spec.title, locale, _words(entity or "")) if spec is not None else (entity or "")


def local_time(at: str | None, zone: dt.tzinfo) -> str:
    """`2026-03-02T01:00:00+00:00` as `2026-03-02 09:00:00` in `zone`."""
    if not at:
        return ""
    moment = dt.datetime.fromisoformat(at)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def value_text(field: Any, value: Any, locale: str) -> str:
    """One old or new value of a change, as words (`field` is the FieldSpec, or None)."""
    if value is None or value == "" or value == []:
        return translate("audit.value.empty", locale)
    if isinstance(value, bool):
        return translate("audit.value.yes" if value else "audit.value.no", locale)
    if isinstance(value, list):
        if all(isinstance(v, dict) for v in value):
            return translate("audit.value.rows", locale, count=len(value))
        return ", ".join(value_text(field, v, locale) for v in value)
    labels = getattr(field, "option_labels", None) or {}
    if isinstance(value, str) and value in labels:
        return localized(labels[value], locale, value)
    if getattr(field, "type", None) in ("link", "user") and isinstance(value, int):
        return f"#{value}"
    return str(value)


def change_lines(blueprint: Any, entity: str | None, changes: Any, locale: str) -> list[dict[str, Any]]:
    """[{label, old, new}] for `{field: [old, new]}`; a secret field has `changed` instead of values."""
    if not isinstance(changes, dict):
        return []
    spec = blueprint.entities.get(entity) if entity else None
    fields = spec.fields if spec is not None else {}
    lines = []
    for name, change in changes.items():
        field = fields.get(name)
        label = localized(field.label, locale, _words(name)) if field is not None and field.label else _words(name)
        if isinstance(change, list) and len(change) == 2:
            lines.append(
                {
                    "label": label,
                    "old": value_text(field, change[0], locale),
                    "new": value_text(field, change[1], locale),
                }
            )
        else:
            lines.append({"label": label, "changed": translate("audit.value.changed", locale)})
    return lines


register_texts(
    {
        "audit.role.system": {"en": "System", "zh-CN": "系统"},
        "audit.detail.rows": {"en": "Rows", "zh-CN": "行数"},
        "audit.detail.ids": {"en": "Records", "zh-CN": "记录"},
        "audit.detail.fields": {"en": "Fields", "zh-CN": "字段"},
        "audit.detail.filters": {"en": "Filters", "zh-CN": "筛选"},
        "audit.detail.search": {"en": "Searched", "zh-CN": "搜索"},
        "audit.detail.sort": {"en": "Sort", "zh-CN": "排序"},
        "audit.detail.masked_lookup": {"en": "Masked lookup", "zh-CN": "脱敏查询"},
    }
)
FIELD_LISTS = ("fields", "filters", "sort")  # detail keys whose values are the entity's field names


def _field_word(fields: dict[str, Any], name: str, locale: str) -> str:
    field = fields.get(name.lstrip("-"))
    word = localized(field.label, locale, _words(name)) if field is not None and field.label else name
    return f"{word} ↓" if field is not None and name.startswith("-") else word  # `-name`: descending


def detail_lines(blueprint: Any, entity: str | None, detail: Any, locale: str) -> list[dict[str, str]]:
    """[{label, value}] for a JSON object detail (a read's fields and filters by their labels); [] otherwise."""
    try:
        parsed = json.loads(detail) if isinstance(detail, str) else None
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    spec = blueprint.entities.get(entity) if entity else None
    fields = spec.fields if spec is not None else {}
    lines = []
    for key, value in parsed.items():
        label = translate(f"audit.detail.{key}", locale)
        label = _words(key) if label == f"audit.detail.{key}" else label
        if key in FIELD_LISTS:
            names = value if isinstance(value, list) else [value]
            text = ", ".join(_field_word(fields, str(n), locale) for n in names) or translate(
                "audit.value.empty", locale
            )
        elif key == "ids" and isinstance(value, list):
            text = ", ".join(f"#{v}" for v in value) or translate("audit.value.empty", locale)
        elif isinstance(value, (dict, list)):
            text = json.dumps(value, ensure_ascii=False)
        else:
            text = value_text(None, value, locale)
        lines.append({"label": label, "value": text})
    return lines


def present(blueprint: Any, entry: dict[str, Any], zone: dt.tzinfo, locale: str) -> dict[str, Any]:
    """The entry as the audit page shows it (the raw entry stays under its own keys)."""
    return {
        **entry,
        "local_at": local_time(entry.get("at"), zone),
        "action_label": action_label(entry.get("action") or "", locale),
        "role_label": role_label(blueprint, entry.get("role"), locale),
        "entity_label": entity_label(blueprint, entry.get("entity"), locale),
        "change_lines": change_lines(blueprint, entry.get("entity"), entry.get("changes"), locale),
        "detail_lines": detail_lines(blueprint, entry.get("entity"), entry.get("detail"), locale),
        "raw_changes": entry.get("changes") if not isinstance(entry.get("changes"), dict) else None,
    }
