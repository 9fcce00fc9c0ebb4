"""Make the stand-ins and the web tests' clinic fixtures importable from this folder."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE.parent / "web"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
