"""docs/workflows.md names every channel type, its options and every [delivery] setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from builder.delivery import CHANNEL_TYPES

DOC = (Path(__file__).resolve().parents[3] / "docs" / "workflows.md").read_text(encoding="utf-8")
SETTINGS = ("max_attempts", "backoff_seconds", "quiet_hours", "daily_cap", "lease_seconds", "batch", "in_process")


@pytest.mark.parametrize("name", sorted(CHANNEL_TYPES))
def test_every_channel_type_and_option_is_documented(name):
    row = next((line for line in DOC.splitlines() if line.startswith(f"| `{name}` |")), None)
    assert row is not None, f"no row for channel type {name} in docs/workflows.md"
    for option in CHANNEL_TYPES[name].options:
        assert f"`{option}`" in row, f"{name}: option {option} undocumented"


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_delivery_setting_is_documented(setting):
    assert f"\n{setting} = " in DOC
