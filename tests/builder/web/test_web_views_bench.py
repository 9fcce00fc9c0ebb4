"""The views benchmark runs end to end in its small mode (numbers are not asserted: machines differ)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_views_benchmark_smoke():
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / "views.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "ratio page/baseline:" in result.stdout
    assert "the week holds" in result.stdout
