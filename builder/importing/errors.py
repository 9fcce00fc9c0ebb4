"""The import's own error: a file or mapping a person must fix, said in one sentence."""

from __future__ import annotations


class ImportFailed(Exception):
    """The import cannot start or go on (unreadable file, bad mapping, a duplicate under `stop`)."""
