"""Importing records from spreadsheets: `crm import` and the /import page.

A file is read (reading.py), its columns mapped to fields (mapping.py, suggesting.py),
each row normalised and converted (normalising.py, converting.py), matched against
existing records (matching.py) and written through the record service as the
importing actor in batches (running.py), remembered row by row so an interrupted run
resumes without doubles (store.py), and checked at the end (integrity.py).
"""

from .errors import ImportFailed
from .mapping import ImportMapping, load_mapping
from .reading import Source, open_source
from .running import ImportOptions, ImportReport, RowProblem, run_import

__all__ = [
    "ImportFailed",
    "ImportMapping",
    "ImportOptions",
    "ImportReport",
    "RowProblem",
    "Source",
    "load_mapping",
    "open_source",
    "run_import",
]
