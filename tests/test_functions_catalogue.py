"""Every Terraform function is there: the list Terraform itself prints, and the names it resolves.

`tests/cases/terraform-functions.json` is the list of names `terraform metadata functions -json`
printed (Terraform 1.11.4): the test checks it on any machine, and where terraform is on PATH it
asks terraform too, so that a newer Terraform's functions show up as missing here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from templater.engine.functions import call_function, lookup_function
from templater.engine.functions.library import SPECIAL_FORMS, canonical_name
from templater.engine.values import Unknown

from .conftest import CTX, error

SNAPSHOT = Path(__file__).resolve().parent / "cases" / "terraform-functions.json"
PROVIDER_FUNCTIONS = {
    "provider::terraform::encode_tfvars",
    "provider::terraform::decode_tfvars",
    "provider::terraform::encode_expr",
}


def _missing(names: set[str]) -> list[str]:
    return sorted(
        name
        for name in names
        if lookup_function(name) is None and canonical_name(name) not in SPECIAL_FORMS
    )


def _terraform_names(tmp_path: Path) -> set[str] | None:
    terraform = shutil.which("terraform")
    if terraform is None:
        return None
    # In an empty directory, so no configuration of this checkout is read.
    done = subprocess.run(
        [terraform, "metadata", "functions", "-json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(done.stdout)["function_signatures"])


def test_every_terraform_function_is_implemented(tmp_path: Path) -> None:
    snapshot = json.loads(SNAPSHOT.read_text())
    names = set(snapshot["names"])
    assert len(names) == 236
    assert _missing(names) == []
    live = _terraform_names(tmp_path)
    if live is not None:
        assert _missing(live) == []
        version = subprocess.run(
            ["terraform", "version", "-json"], capture_output=True, text=True, check=True
        )
        if json.loads(version.stdout)["terraform_version"] == snapshot["terraform_version"]:
            assert live == names, "the snapshot is not what this Terraform prints"


def test_the_builtin_providers_functions_are_implemented() -> None:
    assert _missing(PROVIDER_FUNCTIONS) == []


def test_core_names_call_the_builtin_functions() -> None:
    assert call_function("core::upper", ["a"], CTX) == "A"
    assert lookup_function("core::cidrhost") is lookup_function("cidrhost")
    assert 'function "upper" expects 1 argument(s)' in error("core::upper")


def test_unknown_functions_in_terraforms_words() -> None:
    assert error("nosuch", 1) == 'Call to unknown function: There is no function named "nosuch".'
    assert error("upperr", "a") == (
        'Call to unknown function: There is no function named "upperr". Did you mean "upper"?'
    )
    assert error("encode_expr", 1) == (
        'Call to unknown function: There is no function named "encode_expr". '
        'Did you mean "provider::terraform::encode_expr"?'
    )
    assert error("core::nosuch", 1) == (
        'Unknown provider function: The function namespace "core" is not valid. Provider '
        'function calls must use the "provider::" namespace prefix.'
    )
    assert error("foo::bar") == (
        'Unknown provider function: The function namespace "foo" is not valid. Provider '
        'function calls must use the "provider::" namespace prefix.'
    )
    assert error("provider::terraform::nosuch", 1) == (
        'Unknown provider function: The function "nosuch" is not available from the provider '
        '"terraform".'
    )


def test_other_providers_functions_are_unknown() -> None:
    # Terraform asks the provider; templater downloads none, so the value is not known.
    assert isinstance(call_function("provider::aws::arn_parse", ["arn:aws:x"], CTX), Unknown)
    assert isinstance(call_function("provider::time::rfc3339_parse", [], CTX), Unknown)
