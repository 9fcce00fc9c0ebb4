"""The rules engine: a safe expression language for blueprint logic.

It depends on nothing else of ours; every other engine may use it.
"""

from .expressions import Expression, ExpressionError, RuleError, compile_expression
from .functions import FUNCTIONS, register_function
from .problems import Loc, Problem, ProblemList, did_you_mean

__all__ = [
    "Expression",
    "ExpressionError",
    "FUNCTIONS",
    "Loc",
    "Problem",
    "ProblemList",
    "RuleError",
    "compile_expression",
    "did_you_mean",
    "register_function",
]
