"""The Terraform function library, with Terraform's semantics and messages; the next commit cuts
its functions out of `library` into one module a group of Terraform's documentation."""

from templater.engine.functions.library import (
    FUNCTIONS,
    Function,
    FunctionContext,
    Param,
    UnknownPolicy,
    call_function,
)

__all__ = [
    "FUNCTIONS",
    "Function",
    "FunctionContext",
    "Param",
    "UnknownPolicy",
    "call_function",
]
