"""Make the stand-ins and the web tests' clinic fixtures importable from this folder; the delivery `world`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "web"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


@pytest.fixture
def world(tmp_path, database_url):
    """The clinic with its records, channels and outbox helpers (delivery_helpers.make_world), closed after."""
    from delivery_helpers import make_world

    made = make_world(tmp_path, database_url)
    try:
        yield made
    finally:
        made.runtime.close()
