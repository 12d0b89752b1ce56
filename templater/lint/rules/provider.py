"""Rules about the Coder provider release a template gets (reported by lint.selection)."""

from __future__ import annotations

from templater.engine.diagnostics import Severity
from templater.lint.rules.registry import register

register(
    "provider-version-constraint",
    Severity.ERROR,
    "No release of the Coder provider meets the template's version constraints",
    """
The `version` of `coder` in `required_providers` (together with those of the modules the template
calls) must allow at least one release of the Coder provider, and the lock file's version
(`.terraform.lock.hcl`) must be one they allow; otherwise `terraform init` fails. Also reported:
a constraint that is not Terraform's syntax (`>= 2.5, < 3`, `~> 2.5`; no `v` prefix). templater
lints such a template with the rules of the newest release (or the lock file's).
""",
)
register(
    "provider-version-too-old",
    Severity.INFO,
    "The template's Coder provider is older than any release templater's rules describe",
    """
templater knows the rules of the Coder provider from a certain release on (the oldest release
that any rule's `Since:` names); a template whose constraints or lock file allow only older
releases is linted with the rules of that oldest release, which may not be the provider's own.
""",
)
