"""bench/api.py --workspace runs end to end on PostgreSQL in its small mode (numbers are not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.postgres
def test_workspace_benchmark_smoke(postgres_url):
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENCH_PG": postgres_url.rsplit("/", 1)[0] + "/postgres"}
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "api.py"), "--workspace", "--smoke"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for label in ("patient page, doctor", "calendar week, 10 doctors", "global search, whole phone"):
        assert label in done.stdout
    assert "this week holds" in done.stdout and "aim p50 < 100 ms" in done.stdout
