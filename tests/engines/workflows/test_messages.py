"""Rendering a notification: per channel and locale, in the sandbox, with the locale falling back."""

from __future__ import annotations

import datetime as dt

import pytest
from flows_helpers import NOW, REMINDER_TEXT

from engines.rules import RuleError
from engines.workflows import NotificationSpec, render_notification

CONTEXT = {"patient": {"name": "李娜"}, "starts_at": dt.datetime(2026, 12, 2, 9, 30)}


def test_the_locale_is_chosen_and_values_rendered():
    spec = NotificationSpec.model_validate(REMINDER_TEXT)
    zh = render_notification(spec, "sms", "zh-CN", CONTEXT)
    assert (zh.subject, zh.body) == (None, "李娜您好,您的预约时间是2026年12月02日 09:30。")
    en = render_notification(spec, "sms", "en", CONTEXT)
    assert en.body == "Hello 李娜, see you at 02 Dec 2026 09:30."


def test_a_missing_locale_falls_back_and_subjects_render():
    spec = NotificationSpec.model_validate(
        {"channels": {"email": {"subject": "Reminder {{ patient.name }}", "body": {"en": "At {{ starts_at | date }}"}}}}
    )
    message = render_notification(spec, "email", "zh-CN", CONTEXT)
    assert (message.subject, message.body) == ("Reminder 李娜", "At 02 Dec 2026")


def test_an_unknown_channel_is_a_key_error():
    with pytest.raises(KeyError):
        render_notification(NotificationSpec.model_validate(REMINDER_TEXT), "wecom", "en", CONTEXT)


def test_output_is_bounded_by_the_sandbox():
    spec = NotificationSpec.model_validate({"channels": {"sms": {"body": "{{ 'x' * 100000000 }}"}}})
    with pytest.raises(RuleError):
        render_notification(spec, "sms", "en", {"now": NOW})
