"""Rules the parser and the evaluator report while they read a template."""

from __future__ import annotations

from templater.engine.diagnostics import Severity
from templater.lint.rules.registry import register

register(
    "syntax",
    Severity.ERROR,
    "The file is not valid HCL",
    """
Terraform cannot read the file, so nothing in it can be checked. The position is where the
parser could tell: an unclosed block shows up at the end of the file, a missing value at the
end of its line. Also reported here: a block with the wrong number of labels, an attribute or
declaration given twice, a module without a source.
""",
)
register(
    "eval-error",
    Severity.ERROR,
    "An expression cannot be evaluated",
    """
The expression is valid syntax but has no value: a function called with the wrong type of
argument (`upper(["a"])`), an attribute taken from null, an index past the end of a list, a
variable value that does not fit its type, a cycle between locals. Terraform stops at plan with
the same error. Values that are only known after apply never cause it: they stay unknown.
""",
)
register(
    "reference-undeclared",
    Severity.ERROR,
    "A reference names an undeclared variable, local, resource, data source or module",
    """
`var.x`, `local.x`, `module.x`, `data.T.N` and `T.N` must name something declared in the same
module. A typo here is reported even inside `try()` and `can()`, which forgive failing values
but not references to nothing.
""",
)
register(
    "variable-validation",
    Severity.ERROR,
    "A variable's validation condition is false for its value",
    """
The value given to a variable (by a tfvars file, --var, or a module input) fails one of its
`validation` blocks; the message is the block's `error_message` and the position is where the
value was written. A directory linted on its own may be a module whose callers set the
variable, so its own defaults are not held to its validations (`plan` and `apply` do check them).
""",
)
register(
    "module-not-inspected",
    Severity.INFO,
    "A module's source is not available locally",
    """
Registry and git modules are read where `terraform init` laid them out
(`.terraform/modules/modules.json`). Without it the module's apps cannot be checked and its
outputs are unknown; run `terraform init` (or `terraform get`) to have them inspected.
""",
)
register(
    "file-not-inspected",
    Severity.INFO,
    "A file the template reads is not available locally",
    """
`file()`, `templatefile()` and the other file functions read files next to the module. When
such a file is missing here (a copy of the template without its scripts), what is read from it
is unknown and checks on values made from it stay silent.
""",
)
register(
    "variable-unset",
    Severity.INFO,
    "A variable has no default and no value",
    """
Terraform asks for it at plan, and Coder will not build the template until the variable is
given a value. Everything made from it is unknown, so no check looks at those values and
`plan` cannot provision apps that need it. Give a value with `--var NAME=VALUE`, `--var-file`,
`terraform.tfvars` or `TF_VAR_NAME`, or a `default` in the variable block.
""",
)
