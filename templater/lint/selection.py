"""Which release of the Coder provider a template is linted for.

As ``terraform init`` would choose it: the lock file's version; else the newest known release
that every module's constraints allow; else the newest release. ``--provider-version``
overrides the choice (one older than the rules describe gets the oldest rules, silently: there is
no place in a template to report it at). A release older than the oldest that templater's rules describe is linted
with that oldest one's rules (and said so, as info); constraints no release meets, and a lock
file they do not allow, are errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from templater.engine.diagnostics import Diagnostic, Severity, error
from templater.engine.versions import Constraint, Version, allows, newest_allowed, parse_constraint
from templater.lint.releases import NEWEST, RELEASES
from templater.lint.requirements import Pin, Requirements
from templater.lint.rules import oldest_described

CONSTRAINT = "provider-version-constraint"
TOO_OLD = "provider-version-too-old"


@dataclass(frozen=True, slots=True)
class Selection:
    version: Version
    """The release whose rules apply (never older than the oldest the rules describe)."""
    diagnostics: tuple[Diagnostic, ...] = ()


def select_version(requirements: Requirements, override: str | None = None) -> Selection:
    diagnostics = list(requirements.problems)
    accepted = _accepted_constraints(requirements.constraints, diagnostics)
    locked = _locked_version(requirements.locked, accepted, diagnostics)
    floor = oldest_described()
    if override is not None:
        return Selection(max(Version.parse(override), floor), tuple(diagnostics))
    if locked is not None and requirements.locked is not None:
        version = locked
        deciding = requirements.locked if version < floor else None
    else:
        version = _newest_release(*(constraint for _, constraint in accepted)) or NEWEST
        deciding = _deciding(accepted, floor) if version < floor else None
    if deciding is not None:
        diagnostics.append(_too_old(version, floor, deciding, deciding is requirements.locked))
        version = floor
    return Selection(version, tuple(diagnostics))


@lru_cache(maxsize=256)
def _newest_release(*constraints: Constraint) -> Version | None:
    """The newest known release that every constraint allows (templates share constraints, so
    each combination is worked out once)."""
    return newest_allowed(constraints, RELEASES)


def _accepted_constraints(
    pins: tuple[Pin, ...], diagnostics: list[Diagnostic]
) -> list[tuple[Pin, Constraint]]:
    """The constraints that can be read and leave a release together with those before them;
    the others are reported."""
    accepted: list[tuple[Pin, Constraint]] = []
    for pin in pins:
        try:
            constraint = parse_constraint(pin.text)
        except ValueError as problem:
            diagnostics.append(
                error(
                    CONSTRAINT, f'version constraint "{pin.text}" is not valid: {problem}', pin.span
                )
            )
            continue
        if _newest_release(constraint) is None:
            message = (
                f'no release of the Coder provider meets version constraint "{pin.text}" '
                f"(the releases templater knows run from {RELEASES[0]} to {NEWEST})"
            )
            diagnostics.append(error(CONSTRAINT, message, pin.span))
            continue
        if accepted and _newest_release(*(c for _, c in accepted), constraint) is None:
            others = ", ".join(f'"{other.text}" ({_place(other)})' for other, _ in accepted)
            message = (
                f'version constraint "{pin.text}" leaves no release of the Coder provider '
                f"together with {others}"
            )
            diagnostics.append(error(CONSTRAINT, message, pin.span))
            continue
        accepted.append((pin, constraint))
    return accepted


def _locked_version(
    pin: Pin | None, accepted: list[tuple[Pin, Constraint]], diagnostics: list[Diagnostic]
) -> Version | None:
    if pin is None:
        return None
    try:
        version = Version.parse(pin.text)
    except ValueError:
        diagnostics.append(
            error(CONSTRAINT, f'the lock file names "{pin.text}", which is not a version', pin.span)
        )
        return None
    for other, constraint in accepted:
        if not allows(constraint, version):
            message = (
                f"the lock file selects Coder provider {version}, which version constraint "
                f'"{other.text}" ({_place(other)}) does not allow; run terraform init -upgrade'
            )
            diagnostics.append(error(CONSTRAINT, message, pin.span))
    return version


def _deciding(accepted: list[tuple[Pin, Constraint]], floor: Version) -> Pin | None:
    """The constraint that keeps the template below ``floor``: the first that allows no
    release from it on, else the last one."""
    for pin, constraint in accepted:
        if not any(allows(constraint, release) for release in RELEASES if release >= floor):
            return pin
    return accepted[-1][0] if accepted else None


def _too_old(version: Version, floor: Version, pin: Pin, locked: bool) -> Diagnostic:
    if locked:
        what = f"the lock file selects Coder provider {version}"
    else:
        what = f'version constraint "{pin.text}" allows only releases of the Coder provider before {floor}'
    message = (
        f"{what}; templater's rules describe the provider from {floor} on, so it is linted "
        f"with the rules of {floor}"
    )
    return Diagnostic(TOO_OLD, Severity.INFO, message, pin.span)


def _place(pin: Pin) -> str:
    return f"{pin.span.file}:{pin.span.line}"
