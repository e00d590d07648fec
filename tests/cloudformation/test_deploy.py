"""The deploy command offline: moto plays CloudFormation where it can (create, no-op update,
update, destroy, and the stack itself minus CloudFront, which moto cannot create); botocore's
Stubber scripts the answers moto cannot give (a failed update that rolls back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from moto import mock_aws

from cloudformation.deploy import DeployError, deploy, destroy
from cloudformation.template import build_template

REGION = "us-east-1"


def _template(retention: int) -> str:
    return json.dumps(
        {
            "Resources": {
                "Logs": {
                    "Type": "AWS::Logs::LogGroup",
                    "Properties": {"RetentionInDays": retention},
                }
            },
            "Outputs": {"LogGroup": {"Value": {"Ref": "Logs"}}},
        }
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.client("cloudformation", region_name=REGION)


def _deploy(client: Any, body: str, lines: list[str]) -> Any:
    return deploy(client, "vchannel-test", body, echo=lines.append, sleep=lambda _s: None)


def test_deploy_creates_a_missing_stack(aws: Any) -> None:
    lines: list[str] = []
    result = _deploy(aws, _template(7), lines)
    assert result.outcome == "created"
    assert any("Add" in line and "AWS::Logs::LogGroup" in line for line in lines)
    assert "vchannel-test: CREATE_COMPLETE" in lines


def test_deploy_of_an_unchanged_template_changes_nothing(aws: Any) -> None:
    _deploy(aws, _template(7), [])
    lines: list[str] = []
    assert _deploy(aws, _template(7), lines).outcome == "unchanged"
    assert "  no changes" in lines


def test_deploy_updates_a_changed_stack(aws: Any) -> None:
    _deploy(aws, _template(7), [])
    lines: list[str] = []
    assert _deploy(aws, _template(30), lines).outcome == "updated"
    assert "vchannel-test: UPDATE_COMPLETE" in lines


def test_destroy_deletes_the_stack(aws: Any) -> None:
    _deploy(aws, _template(7), [])
    lines: list[str] = []
    assert destroy(aws, "vchannel-test", echo=lines.append, sleep=lambda _s: None)
    assert aws.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"] == []


def test_destroy_of_a_missing_stack_says_so(aws: Any) -> None:
    lines: list[str] = []
    assert not destroy(aws, "nothing-here", echo=lines.append, sleep=lambda _s: None)
    assert lines == ["no stack named nothing-here"]


MOTO_TYPES = ("AWS::EC2::", "AWS::ElasticLoadBalancingV2::", "AWS::Logs::", "AWS::ECS::Cluster")
"""What moto's CloudFormation creates faithfully; it cannot create CloudFront, and fails on
GetAtt of EFS resources, so the smoke test deploys the network, ALB and cluster only."""


def test_the_network_and_load_balancer_create_in_moto_with_both_listeners(aws: Any) -> None:
    template = build_template().to_dict()
    template["Resources"] = {
        k: v
        for k, v in template["Resources"].items()
        # the rules need the origin secret resolved, which moto does not do
        if v["Type"].startswith(MOTO_TYPES)
        and v["Type"] != "AWS::ElasticLoadBalancingV2::ListenerRule"
    }
    template.pop("Outputs")
    template.pop("Parameters")
    result = _deploy(aws, json.dumps(template), [])
    assert result.outcome == "created"
    elbv2 = boto3.client("elbv2", region_name=REGION)
    (balancer,) = elbv2.describe_load_balancers()["LoadBalancers"]
    listeners = elbv2.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    defaults = {
        listener["Port"]: listener["DefaultActions"][0]["FixedResponseConfig"]["StatusCode"]
        for listener in listeners
    }
    assert defaults == {8000: "403", 8001: "403"}


NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _stubbed() -> tuple[Any, Stubber]:
    """A CloudFormation client that answers only what a test queues on its Stubber."""
    client = boto3.client(
        "cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x"
    )
    return client, Stubber(client)


def _stack(status: str, name: str = "live", **extra: Any) -> dict[str, Any]:
    """A describe_stacks answer: one stack in this status."""
    return {"Stacks": [{"StackName": name, "StackStatus": status, "CreationTime": NOW, **extra}]}


def test_a_failed_update_reports_the_rollback_and_its_first_cause() -> None:
    client, stubber = _stubbed()

    def event(number: int, status: str, reason: str = "") -> dict[str, Any]:
        made = {
            "StackId": "live-id",
            "EventId": f"e{number}",
            "StackName": "live",
            "LogicalResourceId": "EngineService",
            "ResourceType": "AWS::ECS::Service",
            "Timestamp": NOW,
            "ResourceStatus": status,
        }
        if reason:
            made["ResourceStatusReason"] = reason
        return made

    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE"))
    stubber.add_response(
        "create_change_set",
        {"Id": "cs-1"},
        {
            "StackName": "live",
            "ChangeSetName": ANY,
            "ChangeSetType": "UPDATE",
            "TemplateBody": ANY,
            "Parameters": [],
            "Capabilities": ANY,
            "Tags": [{"Key": "Application", "Value": "vchannel"}],
        },
    )
    stubber.add_response(
        "describe_change_set",
        {
            "Status": "CREATE_COMPLETE",
            "Changes": [
                {
                    "ResourceChange": {
                        "Action": "Modify",
                        "LogicalResourceId": "EngineService",
                        "ResourceType": "AWS::ECS::Service",
                        "Replacement": "False",
                    }
                }
            ],
        },
    )
    stubber.add_response("describe_stack_events", {"StackEvents": [event(0, "UPDATE_COMPLETE")]})
    stubber.add_response("execute_change_set", {})
    stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                event(3, "UPDATE_COMPLETE"),
                event(2, "UPDATE_FAILED", "Circuit breaker: tasks failed to start"),
                event(1, "UPDATE_IN_PROGRESS"),
                event(0, "UPDATE_COMPLETE"),
            ]
        },
    )
    stubber.add_response("describe_stacks", _stack("UPDATE_ROLLBACK_COMPLETE"))
    lines: list[str] = []
    with stubber, pytest.raises(DeployError) as caught:
        deploy(client, "live", "{}", echo=lines.append, sleep=lambda _s: None)
    assert "UPDATE_ROLLBACK_COMPLETE" in str(caught.value)
    assert "EngineService: Circuit breaker: tasks failed to start" in str(caught.value)
    assert any("UPDATE_FAILED" in line for line in lines)
    stubber.assert_no_pending_responses()


def test_a_stack_that_failed_to_create_must_be_destroyed_first() -> None:
    client, stubber = _stubbed()
    stubber.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"))
    with stubber, pytest.raises(DeployError, match="destroy it first"):
        deploy(client, "live", "{}", echo=lambda _l: None, sleep=lambda _s: None)


def test_a_successful_create_prints_progress_and_outputs() -> None:
    client, stubber = _stubbed()
    stubber.add_client_error(
        "describe_stacks", "ValidationError", "Stack with id new does not exist"
    )
    stubber.add_response("create_change_set", {"Id": "cs-1"})
    stubber.add_response("describe_change_set", {"Status": "CREATE_IN_PROGRESS"})
    stubber.add_response(
        "describe_change_set",
        {
            "Status": "CREATE_COMPLETE",
            "Changes": [
                {
                    "ResourceChange": {
                        "Action": "Add",
                        "LogicalResourceId": "Cdn",
                        "ResourceType": "AWS::CloudFront::Distribution",
                    }
                }
            ],
        },
    )
    stubber.add_response("execute_change_set", {})
    stubber.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                {
                    "StackId": "new-id",
                    "EventId": "e1",
                    "StackName": "new",
                    "LogicalResourceId": "Cdn",
                    "ResourceType": "AWS::CloudFront::Distribution",
                    "Timestamp": NOW,
                    "ResourceStatus": "CREATE_COMPLETE",
                }
            ]
        },
    )
    outputs = [{"OutputKey": "CdnDomain", "OutputValue": "d1234.cloudfront.net"}]
    done = _stack("CREATE_COMPLETE", name="new", Outputs=outputs)
    stubber.add_response("describe_stacks", done)
    stubber.add_response("describe_stacks", done)
    lines: list[str] = []
    with stubber:
        result = deploy(client, "new", "{}", echo=lines.append, sleep=lambda _s: None)
    assert result.outputs == {"CdnDomain": "d1234.cloudfront.net"}
    assert "  CdnDomain: d1234.cloudfront.net" in lines
    assert any("Add" in line and "AWS::CloudFront::Distribution" in line for line in lines)


def test_a_deploy_that_is_not_confirmed_changes_nothing(aws: Any) -> None:
    _deploy(aws, _template(7), [])
    lines: list[str] = []
    questions: list[str] = []

    def refuse(question: str) -> bool:
        questions.append(question)
        return False

    result = deploy(
        aws,
        "vchannel-test",
        _template(30),
        confirm=refuse,
        echo=lines.append,
        sleep=lambda _s: None,
    )
    assert result.outcome == "cancelled"
    assert len(questions) == 1
    (stack,) = aws.describe_stacks(StackName="vchannel-test")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    (group,) = boto3.client("logs", region_name=REGION).describe_log_groups()["logGroups"]
    assert group["retentionInDays"] == 7


def test_the_stack_carries_its_tags(aws: Any) -> None:
    deploy(
        aws,
        "vchannel-test",
        _template(7),
        tags={"team": "playout"},
        echo=lambda _l: None,
        sleep=lambda _s: None,
    )
    (stack,) = aws.describe_stacks(StackName="vchannel-test")["Stacks"]
    assert {(t["Key"], t["Value"]) for t in stack["Tags"]} == {
        ("Application", "vchannel"),
        ("team", "playout"),
    }


def test_a_conditional_replacement_of_data_is_named_before_anything_runs() -> None:
    client, stubber = _stubbed()
    stubber.add_response("describe_stacks", _stack("UPDATE_COMPLETE"))
    stubber.add_response("create_change_set", {"Id": "cs-1"})
    stubber.add_response(
        "describe_change_set",
        {
            "Status": "CREATE_COMPLETE",
            "Changes": [
                {
                    "ResourceChange": {
                        "Action": "Modify",
                        "LogicalResourceId": "MountTargetA",
                        "ResourceType": "AWS::EFS::MountTarget",
                        "Replacement": "Conditional",
                    }
                },
                {
                    "ResourceChange": {
                        "Action": "Modify",
                        "LogicalResourceId": "EngineTaskDefinition",
                        "ResourceType": "AWS::ECS::TaskDefinition",
                        "Replacement": "True",
                    }
                },
            ],
        },
    )
    stubber.add_response("delete_change_set", {})
    lines: list[str] = []
    with stubber:
        result = deploy(
            client, "live", "{}", confirm=lambda _q: False, echo=lines.append, sleep=lambda _s: None
        )
    assert result.outcome == "cancelled"
    assert any("MountTargetA (replacement: conditional)" in line for line in lines)
    assert any("EngineTaskDefinition (replacement)" in line for line in lines)
    assert "  warning: this replaces MountTargetA, which hold data" in " ".join(lines)
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("environment", "says"),
    [
        ({"AWS_DEFAULT_REGION": REGION}, "Unable to locate credentials"),
        ({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}, "region"),
    ],
    ids=["no-credentials", "no-region"],
)
def test_deploy_without_credentials_or_region_says_so_in_one_line(
    environment: dict[str, str], says: str, tmp_path: Any
) -> None:
    import subprocess
    import sys

    finished = subprocess.run(
        [sys.executable, "-m", "vchannel", "aws", "deploy", "--stack-name", "vchannel", "--yes"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 2
    assert finished.stderr.count("\n") == 1
    assert says in finished.stderr
