"""`schedule:` of a report: mail its cells as an XLSX (or CSV) attachment on a cron schedule.

    reports:
      no_show_rate:
        schedule: {cron: "0 7 * * 1", to_roles: [admin], channel: email, params: {period: last_month}}

The builder's worker runs it (builder/records/report_mail_jobs.py): on each cron
moment, in the app's timezone, one outbox row per role; at delivery the report is
run *as that role* (its row filters and privacy rules) and mailed to the role's
staff who have an e-mail address.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engines.forms.models import Spec


class ReportScheduleSpec(Spec):
    """When and to whom a report is mailed."""

    cron: str = Field(min_length=1)
    to_roles: list[str] = Field(min_length=1)
    channel: str = Field(default="email", min_length=1)
    params: dict[str, str | int] = Field(default_factory=dict)
    format: Literal["xlsx", "csv"] = "xlsx"
