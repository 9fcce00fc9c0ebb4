"""The seeding and reports benchmarks run end to end in their small modes (numbers are not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_DATABASE_URL", "CRM_KEY_FILE")}
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_seed_benchmark_smoke():
    out = run("bench/seed.py", "--patients", "20", "--databases", "sqlite")
    assert "batched / per record" in out and "raw executemany" in out
    alone = run("bench/seed.py", "--patients", "20", "--databases", "sqlite", "--patients-only")
    assert "batched (500)" in alone and "raw executemany" not in alone


def test_reports_benchmark_smoke():
    out = run("bench/reports.py", "--smoke", "--databases", "sqlite", "--plans")
    assert "revisit_rate" in out and "no_show_rate" in out and "ratio" in out
    assert "ix_visit_visited_at" in out  # the plan uses the index the report asked for
