"""A record's timeline on its page: created, changed, workflow steps and automations, in words.

The entries come from `builder/records/history.py` (only fields the viewer may read);
here they become what a person reads: local time, who (their role's title), the
action's words, and each change as label: old → new with option labels and the
linked records' titles (looked up with the viewer's rights, one query per linked entity).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from builder.records import Actor, RecordService
from builder.records.history import record_history
from engines.forms import localized

from ..audit_view import action_label, role_label, value_text
from ..i18n import register_texts, translate
from ..presenting import field_label, titles_for

register_texts(
    {
        "history.title": {"en": "History", "zh-CN": "历史记录"},
        "history.by": {"en": "by {who}", "zh-CN": "由 {who}"},
        "history.changed": {"en": "changed", "zh-CN": "已修改"},
    }
)


def record_timeline(
    service: RecordService, actor: Actor, blueprint: Any, entity_name: str, record_id: int
) -> list[dict[str, Any]]:
    """The record's history as lines for the template, newest first."""
    entity = service.entities[entity_name]
    entries = record_history(service, actor, entity_name, record_id)
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        for name, change in entry.changes.items():
            field = entity.fields.get(name)
            if field is not None and field.spec.type == "link" and field.spec.to and isinstance(change, list):
                wanted.setdefault(field.spec.to, set()).update(v for v in change if isinstance(v, int))
    titles: dict[tuple[str, int], str] = {}
    for target, ids in wanted.items():
        titles.update(titles_for(service, actor, target, ids))
    zone = service.zone
    shown = []
    for entry in entries:
        lines = []
        for name, change in entry.changes.items():
            field = entity.fields[name]
            label = field_label(field, actor.locale)
            if not isinstance(change, list) or len(change) != 2:
                lines.append({"label": label, "text": translate("history.changed", actor.locale)})
                continue
            old, new = (_value(field, v, actor.locale, titles) for v in change)
            lines.append({"label": label, "old": old, "new": new})
        when = entry.at.replace(tzinfo=dt.UTC).astimezone(zone).strftime("%Y-%m-%d %H:%M")
        who = role_label(blueprint, entry.role, actor.locale)
        shown.append(
            {
                "when": when,
                "action": action_label(entry.action, actor.locale),
                "who": f"{entry.actor} ({who})" if entry.actor and who and who != entry.actor else (entry.actor or who),
                "lines": lines,
                "detail": _detail(blueprint, entity_name, entry, actor.locale),
            }
        )
    return shown


def _value(field: Any, value: Any, locale: str, titles: dict[tuple[str, int], str]) -> str:
    if field.spec.type == "link" and isinstance(value, int) and field.spec.to:
        return titles.get((field.spec.to, value), f"#{value}")
    if field.spec.type in ("datetime", "date") and isinstance(value, str):
        return value.replace("T", " ")[:16]
    return value_text(field.spec, value, locale)


def _detail(blueprint: Any, entity_name: str, entry: Any, locale: str) -> str:
    """A workflow step's or an automation's label instead of its code (nothing when the blueprint names none)."""
    try:
        detail = json.loads(entry.detail) if entry.detail else {}
    except ValueError:
        return ""
    if not isinstance(detail, dict):
        return ""
    if entry.action == "automation":
        spec = blueprint.automations.get(detail.get("automation"))
        return localized(spec.title, locale, "") if spec is not None and spec.title else ""
    if entry.action == "transition":
        flow = blueprint.workflows.get(detail.get("workflow"))
        step = flow.transitions.get(detail.get("transition")) if flow is not None else None
        return localized(step.label, locale, "") if step is not None and step.label else ""
    return ""
