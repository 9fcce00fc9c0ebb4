"""The reports engine: KPIs over a blueprint's records, compiled to one SQL query.

It checks the `reports` and `dashboards` sections, compiles a report (with the
viewer's parameters and row filters) to SQLAlchemy Core, runs it on a connection
the caller gives, fills empty time buckets and hides small cells from viewers
who may not read the records. It never imports `builder`: the builder passes
the tables (a schema port), the row filters (a port) and today's date.
"""

from .buckets import bucket_label, bucket_sql
from .catalog import Reports, build_reports
from .compiler import CompiledReport, DimensionColumn, ReportError, compile_report
from .dashboard_spec import CardSpec, DashboardSpec
from .joins import RowFilterPort, SchemaPort
from .paths import FieldPath, PathError, resolve_path
from .periods import PeriodError, period_range
from .report_spec import AGGREGATES, PERIODS, TIME_BUCKETS, DimensionSpec, MeasureSpec, ParameterSpec, ReportSpec
from .runner import ReportResult, ResultColumn, run_report
from .suppression import Suppressed, suppress
from .where_sql import WhereError, compile_where

__all__ = [
    "AGGREGATES",
    "PERIODS",
    "TIME_BUCKETS",
    "CardSpec",
    "CompiledReport",
    "DashboardSpec",
    "DimensionColumn",
    "DimensionSpec",
    "FieldPath",
    "MeasureSpec",
    "ParameterSpec",
    "PathError",
    "PeriodError",
    "ReportError",
    "ReportResult",
    "ReportSpec",
    "Reports",
    "ResultColumn",
    "RowFilterPort",
    "SchemaPort",
    "Suppressed",
    "WhereError",
    "bucket_label",
    "bucket_sql",
    "build_reports",
    "compile_report",
    "compile_where",
    "period_range",
    "resolve_path",
    "run_report",
    "suppress",
]
