"""bench/scale.py runs end to end on PostgreSQL in its small mode (numbers are not asserted: machines differ)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.postgres
def test_scale_benchmark_smoke(postgres_url):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "CRM_BENCH_POSTGRES": postgres_url.rsplit("/", 1)[0] + "/postgres",  # the same server
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "scale.py"), "--smoke"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "sx_patient_phone_last4" in done.stdout and "sx_patient_name_prefix" in done.stdout
    for label in ("q=<whole phone>", "q=<last 4 digits>", "q=王", "count (?limit=0)"):
        assert label in done.stdout
