"""The Terraform function library, with Terraform's semantics and messages: the core in `library`,
the functions in one module a group of Terraform's documentation (strings, collection, network,
...; YAML in `yaml_encoding`), and the built-in terraform provider's functions in
`provider_terraform`. Every function answers to ``core::NAME`` too; other providers' functions
give unknown values. Terraform 1.11's whole list is held by tests/test_functions_catalogue.py."""

# Importing the group modules registers their functions: together they are FUNCTIONS.
from templater.engine.functions import (  # noqa: F401
    collection,
    conversion,
    date_time,
    encoding,
    filesystem,
    hash_crypto,
    network,
    numeric,
    provider_terraform,
    strings,
    yaml_encoding,
)
from templater.engine.functions.library import (
    FUNCTIONS,
    Function,
    FunctionContext,
    Param,
    UnknownPolicy,
    call_function,
    canonical_name,
    lookup_function,
)

__all__ = [
    "FUNCTIONS",
    "Function",
    "FunctionContext",
    "Param",
    "UnknownPolicy",
    "call_function",
    "canonical_name",
    "lookup_function",
]
