"""The workflows engine: state machines, automations, timers and notification templates.

Pure and I/O-free like every engine: it checks the `workflows`, `automations` and
`notifications` sections, decides transitions, matches record events to
automations, plans date-relative timers and draws workflows as SVG. The builder
gives it values, roles and a clock, and does the writing (record service, outbox,
worker). It never imports `builder`.
"""

from .automation import Automation, FlowError, ReadyAction
from .automation_spec import ActionSpec, AutomationSpec
from .diagram import workflow_svg
from .events import Event, Firing, match_event
from .flows import Flows, build_flows
from .machine import Decision, HistoryEntry, StateMachine
from .messages import Message, render_notification
from .notification_spec import NotificationSpec
from .schedule import cron_problem, next_run
from .timers import TimerPlan, due_verdict, plan_timers
from .workflow_spec import WorkflowSpec

__all__ = [
    "ActionSpec",
    "Automation",
    "AutomationSpec",
    "Decision",
    "Event",
    "Firing",
    "FlowError",
    "Flows",
    "HistoryEntry",
    "Message",
    "NotificationSpec",
    "ReadyAction",
    "StateMachine",
    "TimerPlan",
    "WorkflowSpec",
    "build_flows",
    "cron_problem",
    "due_verdict",
    "match_event",
    "next_run",
    "plan_timers",
    "render_notification",
    "workflow_svg",
]
