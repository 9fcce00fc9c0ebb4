"""The benchmark script runs and its rules agree with native Python (speed is not asserted here)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[3]


def test_bench_smoke_agrees_with_native_python():
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rules.py"), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "3 cases agree with native Python" in result.stdout
