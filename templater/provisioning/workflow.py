"""plan, apply, destroy, apps and url: the operator's workflow against the control plane.

Each step reads the template with the engine (lint first: a template with errors is never
applied), asks the control plane for the workspace as it stands, and shows the difference the
way Terraform does.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

from templater.engine.diagnostics import Diagnostic, Severity
from templater.engine.evaluate import Evaluation, evaluate_template
from templater.engine.files import Files
from templater.engine.loader import module_files, read_source
from templater.engine.options import EvalOptions, LintOptions
from templater.lint.runner import check
from templater.model.records import DesiredState, WorkspaceState
from templater.provisioning.client import Client
from templater.provisioning.plan import (
    Change,
    PlanError,
    desired_state,
    diff,
    render_changes,
    summary,
)


class WorkflowError(Exception):
    """A step that cannot go on, with what the user should do (exit status 1)."""


@dataclass(slots=True)
class Plan:
    owner: str
    workspace: str
    current: WorkspaceState | None
    desired: DesiredState
    changes: list[Change]

    @property
    def version(self) -> int:
        return self.current.version if self.current else 0


def _checked_template(directory: Path, options: EvalOptions) -> tuple[list[Diagnostic], Evaluation]:
    """Lint the template as it will be applied: workspace and owner known, so the hostname
    check is exact, and an error; the root module's defaults held to their validations."""
    from templater.lint.cache import ParseCache, default_cache_directory

    parse = ParseCache(default_cache_directory()).parse
    evaluation = evaluate_template(directory, replace(options, validate_root_defaults=True), parse)
    findings = [
        replace(d, severity=Severity.ERROR) if d.rule == "app-hostname-too-long" else d
        for d in check(evaluation, LintOptions(options))
    ]
    return findings, evaluation


def make_plan(
    client: Client,
    directory: Path,
    workspace: str,
    owner: str | None,
    options: EvalOptions,
) -> Plan:
    owner = owner or client.me().name
    options = replace(options, workspace=workspace, owner=owner)
    findings, evaluation = _checked_template(directory, options)
    errors = [d for d in findings if d.severity is Severity.ERROR]
    if errors:
        _print_findings(findings, evaluation)
        raise WorkflowError(f"{len(errors)} error(s) in the template: nothing was planned")
    files = Files()
    source = {path.name: read_source(path, files) for path in module_files(directory, files)}
    try:
        desired = desired_state(evaluation, source, dict(options.inputs.variables))
    except PlanError as problem:
        raise WorkflowError(str(problem)) from None
    current = client.workspace(owner, workspace)
    return Plan(owner, workspace, current, desired, diff(current, desired))


def _print_findings(findings: list[Diagnostic], evaluation: Evaluation) -> None:
    from templater.lint.report import build_report
    from templater.lint.reporters import render

    files = sum(len(module.files) for module in evaluation.modules)
    report = build_report(
        findings, modules=1, files=files, apps=len(evaluation.of_type("coder_app"))
    )
    sys.stderr.write(render("text", report, {}, color=sys.stderr.isatty()))


def show_plan(plan: Plan) -> str:
    where = f"{plan.owner}/{plan.workspace}"
    if not plan.changes:
        return f"No changes. Workspace {where} matches the template.\n"
    lines = [f"templater will perform these actions on workspace {where}:", ""]
    lines += render_changes(plan.changes)
    lines.append(summary(plan.changes))
    return "\n".join(lines) + "\n"


def apply_plan(client: Client, plan: Plan) -> str:
    if not plan.changes:
        return f"No changes. Workspace {plan.owner}/{plan.workspace} matches the template.\n"
    from rich.console import Console

    console = Console(stderr=True)
    with console.status(
        f"Applying {len(plan.changes)} change(s) to {plan.owner}/{plan.workspace}…"
    ):
        result = client.apply(plan.owner, plan.workspace, plan.version, plan.desired)
    counts = (len(result.created), len(result.updated), len(result.replaced), len(result.deleted))
    return (
        f"Apply complete! Resources: {counts[0]} added, {counts[1]} changed, "
        f"{counts[2]} replaced, {counts[3]} destroyed. Workspace version {result.version}.\n"
    )
