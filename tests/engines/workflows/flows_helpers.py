"""A small clinic as plain data, and helpers to check or build its flows without the builder."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from engines.forms import EntitySpec
from engines.workflows import AutomationSpec, NotificationSpec, WorkflowSpec, build_flows

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
ROLES = {"admin", "doctor", "nurse", "front_desk"}

ENTITIES: dict[str, Any] = {
    "staff": {"fields": {"name": {"type": "text"}, "user": {"type": "user"}}},
    "patient": {
        "fields": {
            "name": {"type": "text"},
            "primary_doctor": {"type": "link", "to": "staff"},
            "consent_sms": {"type": "boolean"},
            "stage": {"type": "select", "options": ["active", "dormant"]},
        }
    },
    "appointment": {
        "fields": {
            "patient": {"type": "link", "to": "patient"},
            "doctor": {"type": "link", "to": "staff"},
            "starts_at": {"type": "datetime"},
            "note": {"type": "text"},
            "status": {"type": "state", "workflow": "appointment_flow"},
        },
        "permissions": {"front_desk": {"read": "all", "write": "all"}, "nurse": {"read": "all", "write": ["note"]}},
    },
    "follow_up": {
        "fields": {
            "patient": {"type": "link", "to": "patient"},
            "assignee": {"type": "link", "to": "staff"},
            "due_on": {"type": "date", "required": True},
            "reason": {"type": "text"},
        }
    },
}

APPOINTMENT_FLOW: dict[str, Any] = {
    "entity": "appointment",
    "initial": "requested",
    "states": {
        "requested": {"label": {"en": "Requested", "zh-CN": "待确认"}, "color": "amber"},
        "confirmed": {"color": "blue"},
        "checked_in": {},
        "completed": {"final": True, "color": "green"},
        "cancelled": {"final": True},
    },
    "transitions": {
        "confirm": {"from": "requested", "to": "confirmed", "roles": ["front_desk"]},
        "check_in": {"from": "confirmed", "to": "checked_in"},  # no roles: whoever may write `status`
        "complete": {
            "from": "checked_in",
            "to": "completed",
            "roles": ["doctor"],
            "requires": ["note"],
            "if": "starts_at <= now()",
        },
        "cancel": {"from": ["requested", "confirmed"], "to": "cancelled", "roles": ["front_desk", "admin"]},
    },
}

REMINDER: dict[str, Any] = {
    "entity": "appointment",
    "at": "starts_at - hours(24)",
    "if": "status == 'confirmed'",
    "do": [{"notify": {"to": "patient", "channel": "sms", "template": "reminder", "if": "patient.consent_sms"}}],
}
REMINDER_TEXT: dict[str, Any] = {
    "channels": {
        "sms": {
            "body": {
                "en": "Hello {{ patient.name }}, see you at {{ starts_at | datetime }}.",
                "zh-CN": "{{ patient.name }}您好,您的预约时间是{{ starts_at | datetime }}。",
            }
        }
    }
}


def sections(
    workflows: dict | None = None,
    automations: dict | None = None,
    notifications: dict | None = None,
    entities: dict | None = None,
) -> dict[str, Any]:
    """The four sections as models; defaults are the appointment flow, the reminder and its text."""
    return {
        "workflows": {
            n: WorkflowSpec.model_validate(w)
            for n, w in (workflows if workflows is not None else {"appointment_flow": APPOINTMENT_FLOW}).items()
        },
        "automations": {
            n: AutomationSpec.model_validate(a)
            for n, a in (automations if automations is not None else {"reminder": REMINDER}).items()
        },
        "notifications": {
            n: NotificationSpec.model_validate(t)
            for n, t in (notifications if notifications is not None else {"reminder": REMINDER_TEXT}).items()
        },
        "entities": {n: EntitySpec.model_validate(e) for n, e in (entities or ENTITIES).items()},
    }


def build(**kwargs: Any):
    """(Flows or None, problems) of the sections built by `sections(**kwargs)`."""
    s = sections(**kwargs)
    return build_flows(
        s["workflows"], s["automations"], s["notifications"], s["entities"], ROLES, locales={"en", "zh-CN"}
    )


def flows(**kwargs: Any):
    """The compiled Flows; fails the test when the sections have problems."""
    built, problems = build(**kwargs)
    assert problems == [], problems
    return built


def problems(**kwargs: Any):
    return build(**kwargs)[1]


def codes(**kwargs: Any) -> list[tuple[str, tuple]]:
    """(code, loc) of every problem."""
    return [(p.code, p.loc) for p in problems(**kwargs)]


def flow(**changes: Any) -> dict[str, Any]:
    """The appointment flow with top-level keys replaced."""
    return {**copy.deepcopy(APPOINTMENT_FLOW), **changes}


def transitions(**changes: Any) -> dict[str, Any]:
    """The appointment flow's transitions with some replaced or added."""
    return {**copy.deepcopy(APPOINTMENT_FLOW["transitions"]), **changes}
