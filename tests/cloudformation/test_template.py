"""The CloudFormation template: cfn-lint on every supported combination, and the properties
that matter asserted on its dict. UPDATE_GOLDEN=1 rewrites the golden default template."""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from cloudformation.params import ParamsError, StackParams
from cloudformation.services import service_specs, task_definition_input
from cloudformation.template import build_template

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "default-template.json"
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/0f4d2c1e-aaaa-bbbb-cccc-1234567890ab"
EXISTING = {
    "vpc_id": "vpc-0123456789abcdef0",
    "public_subnet_ids": ("subnet-0123456789abcdef1", "subnet-0123456789abcdef2"),
    "private_subnet_ids": ("subnet-0123456789abcdef3", "subnet-0123456789abcdef4"),
    "private_route_table_ids": ("rtb-0123456789abcdef5", "rtb-0123456789abcdef6"),
}


def _combinations() -> list[StackParams]:
    made = []
    for network, egress, database, https in itertools.product(
        ("new", "existing"), ("public", "nat", "endpoints"), ("sqlite-efs", "rds"), (False, True)
    ):
        fields: dict[str, Any] = {"egress": egress, "database": database}
        if network == "existing":
            fields.update(EXISTING)
        if https:
            fields.update(certificate_arn=CERT, origin_domain="origin.example.com")
        made.append(StackParams(**fields))
    return made


def _resources(params: StackParams | None = None, kind: str | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = build_template(params).to_dict()["Resources"]
    return {k: v for k, v in resources.items() if kind is None or v["Type"] == kind}


def _one(params: StackParams | None, kind: str) -> dict[str, Any]:
    (resource,) = _resources(params, kind).values()
    return resource["Properties"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "params",
    _combinations(),
    ids=lambda p: (
        f"{'existing' if p.vpc_id else 'new'}-{p.egress}-{p.database}"
        + ("-https" if p.https else "")
    ),
)
def test_cfn_lint_reports_nothing(params: StackParams) -> None:
    matches = lint(build_template(params).to_json(), config=ManualArgs(regions=["us-east-1"]))
    assert [f"{m.rule.id}: {m.message}" for m in matches] == []


def test_default_template_matches_golden() -> None:
    text = build_template().to_json() + "\n"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_two_listeners_forward_8000_to_the_engine_and_8001_to_the_schedule_service() -> None:
    listeners = {
        listener["Properties"]["Port"]: listener["Properties"]["DefaultActions"][0]
        for listener in _resources(kind="AWS::ElasticLoadBalancingV2::Listener").values()
    }
    assert listeners == {
        8000: {"Type": "forward", "TargetGroupArn": {"Ref": "EngineTargetGroup"}},
        8001: {"Type": "forward", "TargetGroupArn": {"Ref": "ScheduleTargetGroup"}},
    }


def test_target_groups_check_health_on_the_service_ports() -> None:
    groups = _resources(kind="AWS::ElasticLoadBalancingV2::TargetGroup")
    assert {
        k: (v["Properties"]["Port"], v["Properties"]["HealthCheckPath"]) for k, v in groups.items()
    } == {
        "EngineTargetGroup": (8000, "/health"),
        "ScheduleTargetGroup": (8001, "/health"),
    }


def test_https_adds_listeners_on_443_and_8443() -> None:
    params = StackParams(certificate_arn=CERT, origin_domain="origin.example.com")
    ports = {
        (listener["Properties"]["Port"], listener["Properties"]["Protocol"])
        for listener in _resources(params, "AWS::ElasticLoadBalancingV2::Listener").values()
    }
    assert ports == {(8000, "HTTP"), (8001, "HTTP"), (443, "HTTPS"), (8443, "HTTPS")}


def test_tasks_run_on_fargate_with_awsvpc() -> None:
    for definition in _resources(kind="AWS::ECS::TaskDefinition").values():
        assert definition["Properties"]["NetworkMode"] == "awsvpc"
        assert definition["Properties"]["RequiresCompatibilities"] == ["FARGATE"]
    for service in _resources(kind="AWS::ECS::Service").values():
        assert service["Properties"]["LaunchType"] == "FARGATE"
        breaker = service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"]
        assert breaker == {"Enable": True, "Rollback": True}


def test_cloudfront_reaches_the_engine_listener_over_http_on_8000() -> None:
    config = _one(None, "AWS::CloudFront::Distribution")["DistributionConfig"]
    origin = config["Origins"][0]
    assert origin["DomainName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}
    assert origin["CustomOriginConfig"]["HTTPPort"] == 8000
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


def test_cloudfront_uses_https_to_the_origin_domain_when_a_certificate_is_given() -> None:
    params = StackParams(certificate_arn=CERT, origin_domain="origin.example.com")
    origin = _one(params, "AWS::CloudFront::Distribution")["DistributionConfig"]["Origins"][0]
    assert origin["DomainName"] == "origin.example.com"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["HTTPSPort"] == 443


def test_cache_policy_honours_origin_cache_control_and_keys_on_channel_only() -> None:
    config = _one(None, "AWS::CloudFront::CachePolicy")["CachePolicyConfig"]
    assert (config["MinTTL"], config["DefaultTTL"]) == (0, 1)
    assert config["MaxTTL"] >= 86_400
    key = config["ParametersInCacheKeyAndForwardedToOrigin"]
    assert key["QueryStringsConfig"] == {
        "QueryStringBehavior": "whitelist",
        "QueryStrings": ["channel"],
    }
    assert key["HeadersConfig"] == {"HeaderBehavior": "none"}
    assert key["CookiesConfig"] == {"CookieBehavior": "none"}
    assert key["EnableAcceptEncodingGzip"] is True


def test_errors_are_cached_for_one_second() -> None:
    config = _one(None, "AWS::CloudFront::Distribution")["DistributionConfig"]
    cached = {e["ErrorCode"]: e["ErrorCachingMinTTL"] for e in config["CustomErrorResponses"]}
    assert cached == {404: 1, 500: 1, 502: 1, 503: 1, 504: 1}
    assert config["DefaultCacheBehavior"]["Compress"] is True


@pytest.mark.parametrize("params", _combinations()[:12], ids=lambda p: f"{p.egress}-{p.database}")
def test_no_security_group_opens_the_tasks_to_the_world(params: StackParams) -> None:
    for name, group in _resources(params, "AWS::EC2::SecurityGroup").items():
        if name == "LoadBalancerSecurityGroup":
            continue
        for rule in group["Properties"]["SecurityGroupIngress"]:
            assert "CidrIp" not in rule, (name, rule)
            assert "SourceSecurityGroupId" in rule, (name, rule)


def test_schedule_listener_port_is_limited_to_the_given_cidrs() -> None:
    params = StackParams(schedule_api_cidrs=("203.0.113.0/24",))
    group = _resources(params, "AWS::EC2::SecurityGroup")["LoadBalancerSecurityGroup"]
    rules = {(r["FromPort"], r["CidrIp"]) for r in group["Properties"]["SecurityGroupIngress"]}
    assert rules == {(8000, "0.0.0.0/0"), (8001, "203.0.113.0/24")}


def test_engine_reaches_the_schedule_service_through_cloud_map() -> None:
    namespace = _one(None, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    engine = service_specs(StackParams())["engine"]
    assert dict(engine.environment)["CHANNELMGRAPI"] == f"http://schedule.{namespace['Name']}:8001"
    schedule = _resources(kind="AWS::ECS::Service")["ScheduleService"]["Properties"]
    assert schedule["ServiceRegistries"] == [
        {"RegistryArn": {"Fn::GetAtt": ["ScheduleDiscovery", "Arn"]}}
    ]


def test_engine_scales_on_request_count_per_target() -> None:
    policy = _one(None, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ALBRequestCountPerTarget"
    )


def test_sqlite_on_efs_runs_a_single_schedule_task_that_stops_before_its_replacement() -> None:
    schedule = _resources(kind="AWS::ECS::Service")["ScheduleService"]["Properties"]
    assert schedule["DesiredCount"] == 1
    deployment = schedule["DeploymentConfiguration"]
    assert (deployment["MaximumPercent"], deployment["MinimumHealthyPercent"]) == (100, 0)


def test_rds_feeds_database_url_from_secrets_manager() -> None:
    params = StackParams(database="rds", egress="nat")
    database = _one(params, "AWS::RDS::DBInstance")
    assert database["PubliclyAccessible"] is False
    assert database["StorageEncrypted"] is True
    container = _resources(params, "AWS::ECS::TaskDefinition")["ScheduleTaskDefinition"][
        "Properties"
    ]["ContainerDefinitions"][0]
    assert {s["Name"] for s in container["Secrets"]} == {"API_KEY", "DATABASE_URL"}
    assert "DATABASE_URL" not in {e["Name"] for e in container["Environment"]}


def test_outputs_give_the_playback_url_template() -> None:
    outputs = build_template().to_dict()["Outputs"]
    value = outputs["PlaybackUrlTemplate"]["Value"]["Fn::Join"][1]
    assert value[-1] == "/live/master.m3u8?channel={channel}"
    assert {"CdnDomain", "ScheduleApiUrl"} <= set(outputs)


@pytest.mark.parametrize("service", ["engine", "schedule"])
def test_task_definition_files_match_the_code(service: str) -> None:
    expected = task_definition_input(service_specs(StackParams())[service])
    written = json.loads((REPO / "task_definitions" / f"{service}.json").read_text())
    assert written == expected, "run: .venv/bin/vchannel aws task-definitions"


def _substituted(value: Any) -> Any:
    """The text of an Fn::Sub (the file keeps the same ${Name} placeholder)."""
    return value["Fn::Sub"][0] if isinstance(value, dict) else value


def test_the_schedule_service_points_m3u_lists_at_the_cdn() -> None:
    definition = _resources(kind="AWS::ECS::TaskDefinition")["ScheduleTaskDefinition"]
    environment = definition["Properties"]["ContainerDefinitions"][0]["Environment"]
    value = next(e["Value"] for e in environment if e["Name"] == "PLAYBACK_BASE_URL")
    assert value == {
        "Fn::Sub": ["https://${CdnDomain}", {"CdnDomain": {"Fn::GetAtt": ["Cdn", "DomainName"]}}]
    }


@pytest.mark.parametrize("service", ["engine", "schedule"])
def test_task_definition_files_agree_with_the_template(service: str) -> None:
    file = json.loads((REPO / "task_definitions" / f"{service}.json").read_text())
    template = _resources(kind="AWS::ECS::TaskDefinition")[f"{service.capitalize()}TaskDefinition"][
        "Properties"
    ]
    ours, theirs = file["containerDefinitions"][0], template["ContainerDefinitions"][0]
    assert (file["cpu"], file["memory"]) == (template["Cpu"], template["Memory"])
    assert ours["command"] == theirs["Command"]
    assert ours["portMappings"][0]["containerPort"] == theirs["PortMappings"][0]["ContainerPort"]
    assert {(e["name"], e["value"]) for e in ours["environment"]} == {
        (e["Name"], _substituted(e["Value"])) for e in theirs["Environment"]
    }
    assert [s["name"] for s in ours["secrets"]] == [s["Name"] for s in theirs["Secrets"]]
    assert ours["healthCheck"]["command"] == theirs["HealthCheck"]["Command"]


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"engine_cpu": 256, "engine_memory": 4096}, "engine_cpu/engine_memory"),
        ({"vpc_id": "vpc-0123456789abcdef0"}, "public_subnet_ids"),
        ({"vpc_id": "vpc-1"}, "vpc_id"),
        ({"certificate_arn": CERT}, "origin_domain"),
        ({"schedule_api_cidrs": ("10.0.0.0/33",)}, "schedule_api_cidrs"),
        ({"engine_desired_count": 11}, "engine_desired_count"),
    ],
)
def test_invalid_parameters_are_named(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ParamsError, match=f"^{named}"):
        StackParams(**fields)


def test_parameters_parse_from_field_value_pairs() -> None:
    params = StackParams.from_pairs(
        [
            "egress=nat",
            "engine_desired_count=3",
            "rds_multi_az=true",
            "schedule_api_cidrs=192.0.2.0/24,198.51.100.0/24",
        ]
    )
    assert (params.egress, params.engine_desired_count, params.rds_multi_az) == ("nat", 3, True)
    assert params.schedule_api_cidrs == ("192.0.2.0/24", "198.51.100.0/24")
