"""Reports and dashboards on the web: pages, the JSON API and the ECharts file the app serves itself.

The reports engine computes; `builder/records/reporting.run_report_as` decides what
the actor may see; this package only reads parameters, presents the result in the
viewer's words and draws it (static/reports.js).
"""

from __future__ import annotations

from .api import api_routes
from .designer import designer_routes, preview_routes
from .pages import routes as page_routes
from .vendor import vendor_routes

__all__ = ["api_routes", "designer_routes", "page_routes", "preview_routes", "vendor_routes"]
