"""The evaluator against Terraform's documented behaviour, one construct at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from templater.engine.evaluate import Evaluation
from templater.engine.options import EvalOptions, InputOptions
from templater.engine.syntax import Span
from templater.engine.values import Unknown

from .conftest import Evaluate, resource

AGENT = 'resource "coder_agent" "dev" {\n  arch = "amd64"\n  os = "linux"\n}\n'


def app_value(evaluation: Evaluation, address: str, name: str) -> object:
    return resource(evaluation, address).attributes[name].value


def errors(evaluation: Evaluation) -> list[str]:
    return [f"{d.rule}: {d.message}" for d in evaluation.diagnostics if d.severity.value == "error"]


def one_local(evaluate_files: Evaluate, expression: str, **files: str) -> object:
    """The value of ``expression`` as a local, seen through an app attribute."""
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + f"locals {{\n  v = {expression}\n}}\n"
            + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n'
            + "  url = local.v\n}\n",
            **files,
        }
    )
    assert errors(evaluation) == []
    return app_value(evaluation, "coder_app.a", "url")


# ----------------------------------------------------------------------------- variables

VARIABLE = 'variable "port" {\n  type = number\n  default = 8080\n}\n'
APP_ON_PORT = (
    AGENT
    + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n'
    + '  url = "http://localhost:${var.port}"\n}\n'
)


def url_with(
    evaluate_files: Evaluate, files: dict[str, str], options: EvalOptions | None = None
) -> object:
    evaluation = evaluate_files({"main.tf": VARIABLE + APP_ON_PORT, **files}, options)
    assert errors(evaluation) == []
    return app_value(evaluation, "coder_app.a", "url")


def test_variable_default(evaluate_files: Evaluate) -> None:
    assert url_with(evaluate_files, {}) == "http://localhost:8080"


def test_variable_sources_in_terraform_precedence(evaluate_files: Evaluate) -> None:
    files = {
        "terraform.tfvars": "port = 1001\n",
        "b.auto.tfvars": "port = 1003\n",
        "a.auto.tfvars": "port = 1002\n",
    }
    assert url_with(evaluate_files, files) == "http://localhost:1003"


def test_environment_is_below_files_and_command_line_above_all(
    evaluate_files: Evaluate, tmp_path: Path
) -> None:
    (tmp_path / "extra.tfvars").write_text("port = 2000\n")
    environment = {"TF_VAR_port": "1500"}
    assert url_with(evaluate_files, {}, EvalOptions(InputOptions(environment=environment))) == (
        "http://localhost:1500"
    )
    options = EvalOptions(
        InputOptions(var_files=[tmp_path / "extra.tfvars"], environment=environment)
    )
    assert (
        url_with(evaluate_files, {"terraform.tfvars": "port = 1001\n"}, options)
        == "http://localhost:2000"
    )
    options = EvalOptions(
        InputOptions(variables=[("port", "3000")], var_files=[tmp_path / "extra.tfvars"])
    )
    assert url_with(evaluate_files, {}, options) == "http://localhost:3000"


def test_tfvars_json(evaluate_files: Evaluate) -> None:
    assert (
        url_with(evaluate_files, {"terraform.tfvars.json": '{"port": 4000}'})
        == "http://localhost:4000"
    )


def test_command_line_value_of_a_complex_type_is_hcl(evaluate_files: Evaluate) -> None:
    files = {
        "main.tf": 'variable "ports" {\n  type = list(number)\n}\n'
        + AGENT
        + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n'
        + '  url = "http://localhost:${var.ports[1]}"\n}\n'
    }
    options = EvalOptions(InputOptions(variables=[("ports", "[80, 8081]")]))
    evaluation = evaluate_files(files, options)
    assert app_value(evaluation, "coder_app.a", "url") == "http://localhost:8081"


def test_type_constraint_converts_and_fills_optional_attributes(evaluate_files: Evaluate) -> None:
    value = one_local(
        evaluate_files,
        "jsonencode(var.o)",
        **{
            "vars.tf": 'variable "o" {\n  type = object({ port = number, share = optional(string, "owner") })\n'
            + '  default = { port = "80" }\n}\n'
        },
    )
    assert value == '{"port":80,"share":"owner"}'


def test_unset_variable_without_default_is_unknown(evaluate_files: Evaluate) -> None:
    value = one_local(evaluate_files, "var.missing", **{"vars.tf": 'variable "missing" {}\n'})
    assert isinstance(value, Unknown)


SLUG_VARIABLE = (
    'variable "slug" {\n  default = "Bad_Slug"\n'
    + '  validation {\n    condition = can(regex("^[a-z-]+$", var.slug))\n'
    + '    error_message = "lower case only"\n  }\n}\n'
)


def test_validation_failure_points_at_the_value(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {"main.tf": SLUG_VARIABLE}, EvalOptions(validate_root_defaults=True)
    )
    [diagnostic] = evaluation.diagnostics
    assert diagnostic.rule == "variable-validation"
    assert "lower case only" in diagnostic.message
    assert diagnostic.span == Span("main.tf", 2, 13, 2, 23)


def test_a_module_checked_alone_may_keep_a_default_its_callers_override(
    evaluate_files: Evaluate,
) -> None:
    assert evaluate_files({"main.tf": SLUG_VARIABLE}).diagnostics == []


def test_validation_of_a_module_input_points_at_the_input(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": 'module "m" {\n  source = "./m"\n  slug = "Also_Bad"\n}\n',
            "m/main.tf": SLUG_VARIABLE,
        }
    )
    [diagnostic] = evaluation.diagnostics
    assert diagnostic.rule == "variable-validation"
    assert diagnostic.span == Span("main.tf", 3, 10, 3, 20)


def test_wrong_type_for_a_variable_is_an_error(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {"main.tf": 'variable "n" {\n  type = number\n  default = "abc"\n}\n'}
    )
    [diagnostic] = evaluation.diagnostics
    assert diagnostic.rule == "eval-error" and diagnostic.span.line == 3


def test_an_untyped_variable_arrives_as_text_as_coder_passes_it(evaluate_files: Evaluate) -> None:
    # Coder gives Terraform every template variable as `-var name=value`; with no type,
    # Terraform keeps that text, so parseint() of a number default works.
    evaluation = evaluate_files(
        {
            "main.tf": 'variable "cores" {\n  default = 4\n}\n'
            + 'variable "on" {\n  default = true\n}\n'
            + 'variable "typed" {\n  type = number\n  default = 2\n}\n'
            + AGENT
            + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n'
            + '  url = "http://x/${parseint(var.cores, 10) + var.typed}/${var.on == "true"}"\n}\n'
        }
    )
    assert errors(evaluation) == []
    assert app_value(evaluation, "coder_app.a", "url") == "http://x/6/true"


def test_a_module_input_keeps_its_type(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": 'module "m" {\n  source = "./m"\n  n = 4\n}\n'
            + "locals {\n  n = module.m.n + 1\n}\n",
            "m/main.tf": 'variable "n" {}\noutput "n" {\n  value = var.n\n}\n',
        }
    )
    assert errors(evaluation) == []


# ----------------------------------------------------------------------------- locals


def test_locals_resolve_in_dependency_order(evaluate_files: Evaluate) -> None:
    value = one_local(
        evaluate_files,
        "local.c",
        **{"more.tf": 'locals {\n  c = "${local.b}!"\n  b = upper(local.a)\n  a = "x"\n}\n'},
    )
    assert value == "X!"


def test_cycle_between_locals_is_reported(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files({"main.tf": "locals {\n  a = local.b\n  b = local.a\n}\n"})
    assert any("cycle" in message for message in errors(evaluation))


# ----------------------------------------------------------------------------- expressions


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('"a-${1 + 2}-b"', "a-3-b"),
        ('"%{ for n in [1, 2] }<${n}>%{ endfor }"', "<1><2>"),
        ('"%{ if true }yes%{ else }no%{ endif }"', "yes"),
        ('"${5 / 2} ${7 % 3} ${2 * 3 - 1}"', "2.5 1 5"),
        ('"${1 < 2 && !false} ${"a" == "a"} ${1 == "1"}"', "true true false"),
        ('true ? "t" : "f"', "t"),
        ('join(",", [for s in ["b", "a"] : upper(s) if s != "x"])', "B,A"),
        ("jsonencode({for k, v in {a = 1, b = 2} : v => k})", '{"1":"a","2":"b"}'),
        ('jsonencode({for s in ["a", "b", "a"] : s => s...})', '{"a":["a","a"],"b":["b"]}'),
        ('join(",", [{n = "x"}, {n = "y"}][*].n)', "x,y"),
        ('{a = ["p", "q"]}["a"][1]', "q"),
        ("[1, 2, 3].1", 2),
        ('<<EOT\nhello ${"world"}\nEOT', "hello world\n"),
        ('format("%s-%03d", "app", 7)', "app-007"),
        ("length(concat([[1], [2, 3]]...))", 3),
    ],
)
def test_expressions(evaluate_files: Evaluate, expression: str, expected: object) -> None:
    assert one_local(evaluate_files, expression) == expected


def test_file_and_templatefile_are_relative_to_the_module(evaluate_files: Evaluate) -> None:
    value = one_local(
        evaluate_files,
        'templatefile("${path.module}/run.sh.tftpl", { port = 8080, names = ["a", "b"] })',
        **{"run.sh.tftpl": "serve --port ${port}%{ for n in names } ${n}%{ endfor }\n"},
    )
    assert value == "serve --port 8080 a b\n"
    assert (
        one_local(evaluate_files, 'trimspace(file("note.txt"))', **{"note.txt": " hi \n"}) == "hi"
    )


def test_core_try_and_can_are_the_same_special_forms(evaluate_files: Evaluate) -> None:
    assert one_local(evaluate_files, 'core::try(tonumber("x"), "fallback")') == "fallback"
    assert one_local(evaluate_files, 'tostring(core::can(tonumber("x")))') == "false"


# ----------------------------------------------------------------------------- unknowns


def test_interpolated_agent_id_stays_the_unknown_agent_id(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + 'resource "coder_app" "a" {\n  agent_id = "${coder_agent.dev.id}"\n  slug = "a"\n}\n'
        }
    )
    value = app_value(evaluation, "coder_app.a", "agent_id")
    assert isinstance(value, Unknown) and value.origin == "coder_agent.dev.id"


@pytest.mark.parametrize(
    "expression",
    [
        'var.x == "" ? "a" : "b"',
        '"prefix-${var.x}"',
        "upper(var.x)",
        'try(var.x, "fallback")',
        "can(var.x)",
        "[for s in var.l : s]",
        "var.l[0]",
        "docker_container.c.id",
        "data.coder_provisioner.me.arch",
    ],
)
def test_unknown_spreads(evaluate_files: Evaluate, expression: str) -> None:
    value = one_local(
        evaluate_files,
        expression,
        **{
            "vars.tf": 'variable "x" {\n  type = string\n}\nvariable "l" {\n  type = list(string)\n}\n'
            + 'resource "docker_container" "c" {\n  image = "x"\n}\n'
            + 'data "coder_provisioner" "me" {}\n'
        },
    )
    assert isinstance(value, Unknown)


def test_try_and_can_on_errors(evaluate_files: Evaluate) -> None:
    assert one_local(evaluate_files, 'try({a = 1}.b, "fallback")') == "fallback"
    assert one_local(evaluate_files, 'can({a = 1}.b) ? "yes" : "no"') == "no"


def test_known_operand_decides_a_logical_operator(evaluate_files: Evaluate) -> None:
    assert one_local(evaluate_files, 'var.x != "" || true', **{"v.tf": 'variable "x" {}\n'}) is True


# ----------------------------------------------------------------------------- data sources


def test_workspace_and_owner_and_parameters(evaluate_files: Evaluate) -> None:
    files = {
        "main.tf": AGENT
        + 'data "coder_workspace" "me" {}\ndata "coder_workspace_owner" "me" {}\n'
        + 'data "coder_parameter" "region" {\n  name = "region"\n  default = "eu"\n}\n'
        + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n'
        + '  url = "http://${data.coder_workspace.me.name}.${data.coder_workspace_owner.me.name}/'
        + '${data.coder_parameter.region.value}/${data.coder_workspace.me.start_count}"\n}\n'
    }
    assert isinstance(app_value(evaluate_files(files), "coder_app.a", "url"), Unknown)
    options = EvalOptions(workspace="dev", owner="alice", parameters={"region": "us"})
    assert (
        app_value(evaluate_files(files, options), "coder_app.a", "url") == "http://dev.alice/us/1"
    )


# ----------------------------------------------------------------------------- count, for_each, dynamic


def test_count_and_for_each_expand_with_addresses(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + 'resource "coder_app" "c" {\n  count = 2\n  agent_id = coder_agent.dev.id\n'
            + '  slug = "c-${count.index}"\n}\n'
            + 'resource "coder_app" "e" {\n  for_each = toset(["x", "y"])\n  agent_id = coder_agent.dev.id\n'
            + '  slug = "e-${each.key}"\n}\n'
        }
    )
    assert app_value(evaluation, "coder_app.c[1]", "slug") == "c-1"
    assert app_value(evaluation, 'coder_app.e["y"]', "slug") == "e-y"


def test_unknown_count_is_checked_once_with_unknown_index(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + 'variable "n" {\n  type = number\n}\n'
            + 'resource "coder_app" "c" {\n  count = var.n\n  agent_id = coder_agent.dev.id\n'
            + '  slug = "c-${count.index}"\n  display_name = "C"\n}\n'
        }
    )
    found = resource(evaluation, "coder_app.c")
    assert not found.expanded
    assert isinstance(found.attributes["slug"].value, Unknown)
    assert found.attributes["display_name"].value == "C"


def test_dynamic_blocks_expand(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n'
            + '  dynamic "healthcheck" {\n    for_each = [5, 10]\n    iterator = hc\n'
            + '    content {\n      url = "http://localhost/h"\n      interval = hc.value\n'
            + "      threshold = hc.key + 1\n    }\n  }\n}\n"
        }
    )
    checks = resource(evaluation, "coder_app.a").body.blocks_of("healthcheck")
    assert [(c.attributes["interval"].value, c.attributes["threshold"].value) for c in checks] == [
        (5, 1),
        (10, 2),
    ]


# ----------------------------------------------------------------------------- modules

MODULE = (
    'variable "slug" {\n  type = string\n}\nvariable "agent" {}\n'
    + 'resource "coder_app" "m" {\n  agent_id = var.agent\n  slug = var.slug\n}\n'
    + 'output "slug" {\n  value = coder_app.m.slug\n}\n'
)


def test_local_module_inputs_outputs_and_addresses(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + 'module "web" {\n  source = "./mod"\n  slug = "web"\n  agent = coder_agent.dev.id\n}\n'
            + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "${module.web.slug}-2"\n}\n',
            "mod/main.tf": MODULE,
        }
    )
    assert errors(evaluation) == []
    inner = resource(evaluation, "module.web.coder_app.m")
    assert inner.attributes["slug"].value == "web"
    assert inner.attributes["agent_id"].value == Unknown("coder_agent.dev.id")
    assert inner.span.file == "mod/main.tf"
    assert app_value(evaluation, "coder_app.a", "slug") == "web-2"


def test_modules_laid_out_by_terraform_init(evaluate_files: Evaluate) -> None:
    manifest = {
        "Modules": [
            {"Key": "", "Source": "", "Dir": "."},
            {
                "Key": "web",
                "Source": "registry.coder.com/x/web/coder",
                "Dir": ".terraform/modules/web",
            },
        ]
    }
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + 'module "web" {\n  source = "registry.coder.com/x/web/coder"\n  slug = "web"\n'
            + "  agent = coder_agent.dev.id\n}\n",
            ".terraform/modules/modules.json": json.dumps(manifest),
            ".terraform/modules/web/main.tf": MODULE,
        }
    )
    assert errors(evaluation) == []
    assert app_value(evaluation, "module.web.coder_app.m", "slug") == "web"


WORKDIR_MODULE = (
    'variable "agent_id" {}\n'
    + 'resource "coder_app" "m" {\n  agent_id = var.agent_id\n  slug = "m"\n}\n'
    + 'output "workdir" {\n  value = "/home/coder/project"\n}\n'
    + 'output "agent" {\n  value = var.agent_id\n}\n'
)


def test_module_inputs_and_outputs_are_ordered_one_by_one(evaluate_files: Evaluate) -> None:
    # The agent gives the module its id and takes its directory from an output that does not
    # use that id: Terraform plans it, so no cycle.
    evaluation = evaluate_files(
        {
            "main.tf": 'module "ws" {\n  source = "./ws"\n  agent_id = coder_agent.main.id\n}\n'
            + 'resource "coder_agent" "main" {\n  arch = "amd64"\n  os = "linux"\n'
            + "  dir = module.ws.workdir\n}\n",
            "ws/main.tf": WORKDIR_MODULE,
        }
    )
    assert errors(evaluation) == []
    assert app_value(evaluation, "coder_agent.main", "dir") == "/home/coder/project"
    inner = resource(evaluation, "module.ws.coder_app.m")
    assert inner.attributes["agent_id"].value == Unknown("coder_agent.main.id")


def test_a_real_cycle_through_a_module_is_still_reported(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": 'module "ws" {\n  source = "./ws"\n  agent_id = coder_agent.main.id\n}\n'
            + 'resource "coder_agent" "main" {\n  arch = "amd64"\n  os = "linux"\n'
            + "  dir = module.ws.agent\n}\n",
            "ws/main.tf": WORKDIR_MODULE,
        }
    )
    assert any(
        "cycle" in message and "coder_agent.main" in message for message in errors(evaluation)
    )


def test_a_module_used_whole_or_indexed_gives_all_its_outputs(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + 'module "ws" {\n  source = "./ws"\n  agent_id = coder_agent.dev.id\n}\n'
            + 'module "many" {\n  count = 2\n  source = "./ws"\n  agent_id = "a${count.index}"\n}\n'
            + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n'
            + '  url = "http://x/${jsonencode(keys(module.ws))}/${module.many[1].agent}"\n}\n',
            "ws/main.tf": WORKDIR_MODULE.replace('slug = "m"', 'slug = "m-${var.agent_id}"'),
        }
    )
    assert errors(evaluation) == []
    assert app_value(evaluation, "coder_app.a", "url") == 'http://x/["agent","workdir"]/a1'


def test_a_module_output_that_is_not_declared_is_named(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": 'module "ws" {\n  source = "./ws"\n  agent_id = "x"\n}\n'
            + "locals {\n  d = module.ws.workdri\n}\n",
            "ws/main.tf": WORKDIR_MODULE,
        }
    )
    assert errors(evaluation) == [
        "reference-undeclared: Unsupported attribute: This object does not have an attribute"
        ' named "workdri". Did you mean "workdir"?'
    ]


def test_remote_module_without_init_is_reported_once_and_unknown(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": 'module "x" {\n  source = "registry.coder.com/a/b/coder"\n}\n'
            + "locals {\n  u = module.x.url\n}\n"
        }
    )
    [diagnostic] = evaluation.diagnostics
    assert diagnostic.rule == "module-not-inspected" and diagnostic.severity.value == "info"
    assert diagnostic.span.line == 2


def test_undeclared_reference_is_its_own_rule(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {"main.tf": "locals {\n  a = var.nope\n  b = local.nope\n  c = coder_agent.x.id\n}\n"}
    )
    rules = sorted(d.rule for d in evaluation.diagnostics)
    assert rules == ["reference-undeclared"] * 3


# ----------------------------------------------------------------------------- positions and origins


def test_origin_through_variable_default_local_module_input_and_conditional(
    evaluate_files: Evaluate,
) -> None:
    evaluation = evaluate_files(
        {
            "variables.tf": 'variable "share" {\n  default = "public"\n}\nvariable "on" {\n  default = true\n}\n',
            "main.tf": AGENT
            + 'locals {\n  slug = "from-local"\n}\n'
            + 'module "m" {\n  source = "./mod"\n  slug = var.on ? local.slug : "other"\n  agent = coder_agent.dev.id\n}\n'
            + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n  share = var.share\n}\n',
            "mod/main.tf": MODULE,
        }
    )
    share = resource(evaluation, "coder_app.a").attributes["share"]
    assert share.span.file == "main.tf"
    assert share.origin == Span("variables.tf", 2, 13, 2, 21)
    slug = resource(evaluation, "module.m.coder_app.m").attributes["slug"]
    assert slug.span.file == "mod/main.tf"
    # module input → conditional → local: the literal in the locals block.
    assert slug.origin == Span("main.tf", 6, 10, 6, 22)


def test_position_of_heredoc_value_and_tf_json_value(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + 'resource "coder_app" "a" {\n  agent_id = coder_agent.dev.id\n  slug = "a"\n'
            + "  url = <<-EOT\n    http://localhost:1\n  EOT\n}\n",
            "extra.tf.json": '{"resource": {"coder_app": {"j": {\n  "agent_id": "${coder_agent.dev.id}",\n  "slug": "j"}}}}\n',
        }
    )
    url = resource(evaluation, "coder_app.a").attributes["url"]
    assert url.value == "http://localhost:1\n"
    assert (url.span.line, url.span.column) == (8, 9)
    slug = resource(evaluation, "coder_app.j").attributes["slug"]
    assert slug.span == Span("extra.tf.json", 3, 11, 3, 14)
    assert resource(evaluation, "coder_app.j").attributes["agent_id"].value == Unknown(
        "coder_agent.dev.id"
    )
