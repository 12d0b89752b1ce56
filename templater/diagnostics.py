"""Diagnostics: what a check found, how bad it is, and exactly where."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from templater.syntax import Span


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    rule: str
    severity: Severity
    message: str
    span: Span
    resource: str | None = None


def error(rule: str, message: str, span: Span, resource: str | None = None) -> Diagnostic:
    return Diagnostic(rule, Severity.ERROR, message, span, resource)
