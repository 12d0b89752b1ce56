"""What plan says when a template cannot be provisioned as it is: it names the variables it
needs, however far the value travelled from them (locals, module inputs and outputs, count)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from templater.model.records import AgentSpec, WorkspaceState
from templater.provisioning.plan import (
    PlanError,
    desired_state,
    diff,
    render_changes,
)

from .conftest import Evaluate

AGENT = 'resource "coder_agent" "dev" {\n  arch = "amd64"\n  os = "linux"\n}\n'


def plan_error(evaluate_files: Evaluate, files: dict[str, str]) -> str:
    evaluation = evaluate_files(files)
    with pytest.raises(PlanError) as raised:
        desired_state(evaluation, {}, {})
    return raised.value.message


def test_plan_names_the_variable_behind_an_unknown_url(evaluate_files: Evaluate) -> None:
    message = plan_error(
        evaluate_files,
        {
            "main.tf": 'variable "port" {}\nvariable "host" {\n  default = "localhost"\n}\n'
            + 'locals {\n  base = "http://${var.host}:${var.port}"\n}\n'
            + AGENT
            + 'resource "coder_app" "web" {\n  agent_id = coder_agent.dev.id\n  slug = "web"\n'
            + '  url = "${local.base}/"\n}\n'
        },
    )
    assert message == (
        'coder_app.web: url is not known before apply; it needs variable "port", which has no '
        "value: --var port=VALUE"
    )


def test_plan_follows_module_inputs_and_outputs(evaluate_files: Evaluate) -> None:
    message = plan_error(
        evaluate_files,
        {
            "main.tf": 'variable "image" {}\nvariable "tag" {}\n'
            + AGENT
            + 'module "m" {\n  source = "./m"\n  name = "${var.image}:${var.tag}"\n}\n'
            + 'resource "coder_app" "web" {\n  agent_id = coder_agent.dev.id\n  slug = "web"\n'
            + '  url = "http://localhost/${module.m.name}"\n}\n',
            "m/main.tf": 'variable "name" {}\noutput "name" {\n  value = upper(var.name)\n}\n',
        },
    )
    assert message.endswith(
        'it needs variables "image", "tag", which have no value: --var image=VALUE --var tag=VALUE'
    )


def test_plan_names_the_variable_behind_an_unknown_count(evaluate_files: Evaluate) -> None:
    message = plan_error(
        evaluate_files,
        {
            "main.tf": 'variable "replicas" {}\n'
            + AGENT
            + 'resource "coder_app" "web" {\n  count = var.replicas\n'
            + '  agent_id = coder_agent.dev.id\n  slug = "web-${count.index}"\n}\n'
        },
    )
    assert message == (
        "how many coder_app.web there are is not known before apply; it needs variable "
        '"replicas", which has no value: --var replicas=VALUE'
    )


def test_a_value_unknown_for_another_reason_names_no_variable(evaluate_files: Evaluate) -> None:
    message = plan_error(
        evaluate_files,
        {
            "main.tf": 'variable "unused" {}\n'
            + AGENT
            + 'resource "coder_app" "web" {\n  agent_id = coder_agent.dev.id\n  slug = "web"\n'
            + '  url = "http://${coder_agent.dev.id}/"\n}\n'
        },
    )
    assert message == (
        "coder_app.web: url is not known before apply: what it uses exists only once applied"
        " (a resource's id, say)"
    )


def test_an_app_of_a_provider_before_slugs_is_named_by_its_resource(
    evaluate_files: Evaluate,
) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": AGENT
            + 'resource "coder_app" "code-server" {\n  agent_id = coder_agent.dev.id\n'
            + '  name = "VS Code"\n  url = "http://localhost:13337"\n}\n'
        }
    )
    [app] = desired_state(evaluation, {}, {}).apps
    assert (app.slug, app.display_name) == ("code-server", "VS Code")


def test_an_agents_connection_timeout_comes_from_the_template(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {
            "main.tf": 'variable "timeout" {\n  default = 30\n}\nvariable "unset" {}\n'
            + 'resource "coder_agent" "fast" {\n  os = "linux"\n  arch = "amd64"\n'
            + "  connection_timeout = 1\n}\n"
            + 'resource "coder_agent" "patient" {\n  os = "linux"\n  arch = "amd64"\n'
            + "  connection_timeout = 0\n}\n"
            + 'resource "coder_agent" "given" {\n  os = "linux"\n  arch = "amd64"\n'
            + "  connection_timeout = var.timeout\n}\n"
            + 'resource "coder_agent" "unknown" {\n  os = "linux"\n  arch = "amd64"\n'
            + "  connection_timeout = var.unset\n}\n"
            + 'resource "coder_agent" "default" {\n  os = "linux"\n  arch = "amd64"\n}\n'
        }
    )
    agents = {agent.name: agent for agent in desired_state(evaluation, {}, {}).agents}
    assert {name: agent.connection_timeout for name, agent in agents.items()} == {
        "fast": 1,
        "patient": 0,
        "given": 30,
        "unknown": 120,
        "default": 120,
    }


def test_a_negative_connection_timeout_cannot_be_provisioned(evaluate_files: Evaluate) -> None:
    message = plan_error(
        evaluate_files,
        {
            "main.tf": 'resource "coder_agent" "dev" {\n  os = "linux"\n  arch = "amd64"\n'
            + "  connection_timeout = -5\n}\n"
        },
    )
    assert message == (
        "coder_agent.dev: connection_timeout is -5; it must be a whole number of seconds, 0 or "
        "more (0: never time out)"
    )


def test_plan_shows_a_changed_connection_timeout(evaluate_files: Evaluate) -> None:
    evaluation = evaluate_files(
        {"main.tf": AGENT.replace('os = "linux"', 'os = "linux"\n  connection_timeout = 1')}
    )
    desired = desired_state(evaluation, {}, {})
    current = WorkspaceState(
        name="dev",
        owner="alice",
        version=1,
        source={},
        variables={},
        agents=(AgentSpec("dev"),),
        apps=(),
        updated_at=datetime.now(UTC),
    )
    [change] = diff(current, desired)
    assert (change.action, change.address) == ("update", "agent.dev")
    assert "      connection_timeout = 120 -> 1" in render_changes([change])
    assert diff(replace(current, agents=desired.agents), desired) == []
