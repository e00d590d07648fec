"""Deploy and destroy the stack with boto3: a change set shown before it runs (replacements
named, "Conditional" ones included, and those of resources that hold data called out), a
question before it is executed, then the stack's events streamed as progress until it settles,
then its outputs.

The CloudFormation client is passed in (a boto3 client, or one under moto or botocore's
Stubber in tests); `sleep` is injectable so that tests do not wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from common.clock import SystemClock

OK_STATES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
FAILED_STATES = {
    "CREATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "UPDATE_FAILED",
    "DELETE_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
}
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
CAPABILITIES = ["CAPABILITY_IAM"]
STACK_TAGS = {"Application": "vchannel"}
"""Tags of the stack, which CloudFormation copies onto every resource that takes tags."""
HOLDS_DATA = (
    "AWS::EFS::FileSystem",
    "AWS::EFS::MountTarget",
    "AWS::RDS::DBInstance",
    "AWS::SecretsManager::Secret",
    "AWS::Logs::LogGroup",
)
"""Resources whose replacement loses or moves data (or, for a mount target, fails when the
zone already has one)."""

Echo = Callable[[str], None]
Confirm = Callable[[str], bool]
Client = Any
"""A boto3 CloudFormation client (boto3 ships no type stubs here)."""


class DeployError(Exception):
    """The deployment did not succeed; the message says what CloudFormation reported."""


@dataclass(frozen=True)
class DeployResult:
    outcome: str
    """'created', 'updated', 'unchanged' or 'cancelled'."""
    outputs: dict[str, str] = field(default_factory=dict)


def stack_status(client: Client, stack_name: str) -> str | None:
    """The stack's status, or None when there is no such stack."""
    try:
        stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return str(stacks[0]["StackStatus"]) if stacks else None


def _outputs(client: Client, stack_name: str) -> dict[str, str]:
    stack = client.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _event_ids(client: Client, stack_name: str) -> set[str]:
    return {e["EventId"] for e in client.describe_stack_events(StackName=stack_name)["StackEvents"]}


def _follow(
    client: Client,
    stack_name: str,
    seen: set[str],
    echo: Echo,
    sleep: Callable[[float], None],
    poll_seconds: float,
    gone_is_done: bool = False,
) -> str:
    """Print new stack events, oldest first, until the stack reaches a final state."""
    first_failure = ""
    while True:
        try:
            events = client.describe_stack_events(StackName=stack_name)["StackEvents"]
        except ClientError as error:
            if gone_is_done and "does not exist" in str(error):
                return "DELETE_COMPLETE"
            raise
        for event in reversed(events):
            if event["EventId"] in seen:
                continue
            seen.add(event["EventId"])
            status = event["ResourceStatus"]
            reason = event.get("ResourceStatusReason", "")
            echo(
                f"  {status:<28} {event['ResourceType']:<42} {event['LogicalResourceId']}"
                + (f": {reason}" if reason else "")
            )
            if status.endswith("_FAILED") and reason and not first_failure:
                first_failure = f"{event['LogicalResourceId']}: {reason}"
        status = stack_status(client, stack_name)
        if status is None and gone_is_done:
            return "DELETE_COMPLETE"
        if status in OK_STATES:
            return status
        if status in FAILED_STATES:
            raise DeployError(
                f"stack {stack_name} ended in {status}"
                + (f"; first failure: {first_failure}" if first_failure else "")
            )
        sleep(poll_seconds)


def deploy(
    client: Client,
    stack_name: str,
    template_body: str,
    parameters: dict[str, str] | None = None,
    *,
    tags: dict[str, str] | None = None,
    confirm: Confirm | None = None,
    echo: Echo = print,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 5.0,
) -> DeployResult:
    """Create or update a stack through a change set, and wait until it settles. `confirm`
    is asked before the change set runs (None: it runs); `tags` join the stack's tags."""
    status = stack_status(client, stack_name)
    if status == "ROLLBACK_COMPLETE":
        raise DeployError(
            f"stack {stack_name} is ROLLBACK_COMPLETE after a failed create and cannot be "
            "updated; destroy it first (vchannel aws destroy)"
        )
    if status is not None and status.endswith("_IN_PROGRESS") and status != "REVIEW_IN_PROGRESS":
        raise DeployError(f"stack {stack_name} is busy ({status}); try again when it settles")
    kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    change_set = f"vchannel-{SystemClock().now_us() // 1_000_000}"
    client.create_change_set(
        StackName=stack_name,
        ChangeSetName=change_set,
        ChangeSetType=kind,
        TemplateBody=template_body,
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
        ],
        Capabilities=CAPABILITIES,
        Tags=[{"Key": k, "Value": v} for k, v in {**STACK_TAGS, **(tags or {})}.items()],
    )
    echo(f"change set {change_set} ({kind.lower()} {stack_name}):")
    while True:
        described = client.describe_change_set(StackName=stack_name, ChangeSetName=change_set)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            break
        sleep(poll_seconds / 2)
    reason = described.get("StatusReason", "")
    changes = described.get("Changes", [])
    if described["Status"] == "FAILED" or not changes:
        if described["Status"] == "FAILED" and not any(text in reason for text in NO_CHANGES):
            raise DeployError(f"change set failed: {reason}")
        client.delete_change_set(StackName=stack_name, ChangeSetName=change_set)
        echo("  no changes")
        return DeployResult("unchanged", _outputs(client, stack_name))
    replaced_data = []
    for change in changes:
        resource = change["ResourceChange"]
        replacement = resource.get("Replacement")
        note = {"True": " (replacement)", "Conditional": " (replacement: conditional)"}
        echo(
            f"  {resource['Action']:<8} {resource['ResourceType']:<42} "
            f"{resource['LogicalResourceId']}{note.get(str(replacement), '')}"
        )
        if str(replacement) in note and resource["ResourceType"] in HOLDS_DATA:
            replaced_data.append(resource["LogicalResourceId"])
    if replaced_data:
        echo(
            f"  warning: this replaces {', '.join(replaced_data)}, which hold data "
            "(a replaced database or file system starts empty)"
        )
    if confirm is not None and not confirm(f"execute change set {change_set}? [y/N] "):
        client.delete_change_set(StackName=stack_name, ChangeSetName=change_set)
        echo("  not executed (the change set is deleted)")
        return DeployResult("cancelled")
    seen = _event_ids(client, stack_name) if kind == "UPDATE" else set()
    client.execute_change_set(StackName=stack_name, ChangeSetName=change_set)
    echo("progress:")
    final = _follow(client, stack_name, seen, echo, sleep, poll_seconds)
    outputs = _outputs(client, stack_name)
    echo(f"{stack_name}: {final}")
    for key, value in outputs.items():
        echo(f"  {key}: {value}")
    return DeployResult("created" if kind == "CREATE" else "updated", outputs)


def destroy(
    client: Client,
    stack_name: str,
    *,
    echo: Echo = print,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = 5.0,
) -> bool:
    """Delete a stack and wait; False when there was no such stack."""
    if stack_status(client, stack_name) is None:
        echo(f"no stack named {stack_name}")
        return False
    seen = _event_ids(client, stack_name)
    client.delete_stack(StackName=stack_name)
    echo("progress:")
    _follow(client, stack_name, seen, echo, sleep, poll_seconds, gone_is_done=True)
    echo(f"{stack_name}: deleted")
    return True
