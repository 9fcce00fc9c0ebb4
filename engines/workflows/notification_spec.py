"""The pydantic models of the `notifications:` section: message templates per channel and locale.

Channel names are free here (`sms`, `email`, `wecom`, `inbox`, `console`): which
ones exist is configured in crm.toml, so the blueprint check does not judge them.
The templates are Jinja2 in the rules engine's sandbox; the variables they may
read are the fields of the records that the automations using them act on.
"""

from __future__ import annotations

from pydantic import Field

from engines.forms import LocalizedText
from engines.forms.models import Spec


class MessageSpec(Spec):
    """One channel's message: a body per locale and, for channels that have one, a subject."""

    subject: LocalizedText | None = None
    body: LocalizedText


class NotificationSpec(Spec):
    """A named notification: one message per channel."""

    title: LocalizedText | None = None
    channels: dict[str, MessageSpec] = Field(min_length=1)
