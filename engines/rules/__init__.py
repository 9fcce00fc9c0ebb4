"""The rules engine: a safe, fast, checkable language for blueprint logic.

Expressions (validations, computed values, visibility, guards), decision tables,
blueprint `examples:` and message templates. It depends on nothing else of ours
(stdlib, jinja2 and pydantic only); every other engine may use it.
"""

from .clock import Evaluation, get_timezone, pin_now, set_now, set_timezone
from .decision_cells import Cell, CellError, parse_cell
from .decision_checks import analyse, build_decision_tables, check_decision_tables
from .decision_tables import DecisionTable, TableError, compile_decision_table
from .errors import ExpressionError, RuleError, RulesEngineError, ScopeError
from .examples import run_examples, run_table_examples
from .expressions import Expression, compile_expression
from .fn_dates import Months
from .fn_related import InMemoryRelated, RelatedRecords
from .functions import FUNCTIONS, FunctionSpec, register_function, spec_of
from .problems import Loc, Problem, ProblemList, did_you_mean
from .scope import FieldType, RecordType, Scope, choice
from .specs import DecisionRowSpec, DecisionTableSpec, DecisionTablesSection, ExampleSpec
from .templates import CompiledTemplate, compile_template, render_template

__all__ = [
    "FUNCTIONS",
    "Cell",
    "CellError",
    "CompiledTemplate",
    "DecisionRowSpec",
    "DecisionTable",
    "DecisionTableSpec",
    "DecisionTablesSection",
    "Evaluation",
    "ExampleSpec",
    "Expression",
    "ExpressionError",
    "FieldType",
    "FunctionSpec",
    "InMemoryRelated",
    "Loc",
    "Months",
    "Problem",
    "ProblemList",
    "RecordType",
    "RelatedRecords",
    "RuleError",
    "RulesEngineError",
    "Scope",
    "ScopeError",
    "TableError",
    "analyse",
    "build_decision_tables",
    "check_decision_tables",
    "choice",
    "compile_decision_table",
    "compile_expression",
    "compile_template",
    "did_you_mean",
    "get_timezone",
    "parse_cell",
    "pin_now",
    "register_function",
    "render_template",
    "run_examples",
    "run_table_examples",
    "set_now",
    "set_timezone",
    "spec_of",
]
