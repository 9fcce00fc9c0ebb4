"""Cron schedules: checked when the blueprint loads, next run computed in the app's timezone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from engines.workflows import cron_problem, next_run

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("line", ["0 9 1 * *", "*/15 8-18 * * MON-FRI", "0 9 * * 1"])
def test_valid_lines(line):
    assert cron_problem(line) is None


@pytest.mark.parametrize("line", ["0 9 1 *", "0 25 * * *", "every day", "0 9 1 * * *", ""])
def test_invalid_lines(line):
    assert cron_problem(line)


def test_next_run_is_in_the_app_timezone():
    utc_now = dt.datetime(2026, 11, 30, 7, 0, tzinfo=dt.UTC)  # 15:00 in Shanghai
    assert next_run("0 9 1 * *", utc_now, SHANGHAI) == dt.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
    assert next_run("0 9 * * *", utc_now, SHANGHAI) == dt.datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)
    assert next_run("0 16 * * *", utc_now, SHANGHAI) == dt.datetime(2026, 11, 30, 16, 0, tzinfo=SHANGHAI)
