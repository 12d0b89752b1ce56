"""What the user asks of a run: variable values, the workspace, policies. Plain data, kept apart
from the engine so that a cache can key on it without loading the engine."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class InputOptions:
    """What the user gave on the command line and in the environment."""

    variables: Sequence[tuple[str, str]] = ()
    var_files: Sequence[Path] = ()
    environment: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))


@dataclass(frozen=True, slots=True)
class EvalOptions:
    """What the user knows about the workspace the template is evaluated for."""

    inputs: InputOptions = field(default_factory=InputOptions)
    workspace: str | None = None
    owner: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    access_url: str | None = None
    # Whether the root module's own defaults must pass their validations: true when the
    # directory is applied as a template, false when it is linted and may be a module.
    validate_root_defaults: bool = False


@dataclass(frozen=True, slots=True)
class LintOptions:
    evaluation: EvalOptions = field(default_factory=EvalOptions)
    # The most open share level the deployment allows (--max-share); None allows all.
    max_share: str | None = None
    # The Coder provider release to lint for (--provider-version); None: the template's own.
    provider_version: str | None = None


def parse_var_assignment(text: str, option: str = "--var") -> tuple[str, str]:
    """``NAME=VALUE`` as given to ``--var``; raises ValueError with a message for the user."""
    name, separator, value = text.partition("=")
    name = name.strip()
    if not separator or not name:
        raise ValueError(f"{option} expects NAME=VALUE, got {text!r}")
    return name, value


def cache_key_material(options: LintOptions) -> str:
    """Everything in the options that can change a lint result, as text. Of the environment
    only TF_VAR_* (variable values) and HOME (``~`` in paths) matter."""
    evaluation = options.evaluation
    environment = sorted(
        (key, value)
        for key, value in evaluation.inputs.environment.items()
        if key.startswith("TF_VAR_") or key == "HOME"
    )
    return repr(
        (
            list(evaluation.inputs.variables),
            [str(path) for path in evaluation.inputs.var_files],
            environment,
            evaluation.workspace,
            evaluation.owner,
            sorted(evaluation.parameters.items()),
            evaluation.access_url,
            evaluation.validate_root_defaults,
            options.max_share,
            options.provider_version,
        )
    )
