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
ECR_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/vchannel:1"
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
        if egress == "endpoints":
            fields["image"] = ECR_IMAGE
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


def test_target_groups_check_health_on_the_service_ports() -> None:
    groups = _resources(kind="AWS::ElasticLoadBalancingV2::TargetGroup")
    assert {
        k: (v["Properties"]["Port"], v["Properties"]["HealthCheckPath"]) for k, v in groups.items()
    } == {
        "EngineTargetGroup": (8000, "/health"),
        "ScheduleTargetGroup": (8001, "/health"),
    }


def test_tasks_run_on_fargate_with_awsvpc() -> None:
    for definition in _resources(kind="AWS::ECS::TaskDefinition").values():
        assert definition["Properties"]["NetworkMode"] == "awsvpc"
        assert definition["Properties"]["RequiresCompatibilities"] == ["FARGATE"]
    for service in _resources(kind="AWS::ECS::Service").values():
        assert service["Properties"]["LaunchType"] == "FARGATE"
        breaker = service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"]
        assert breaker == {"Enable": True, "Rollback": True}


def _distribution(params: StackParams | None = None, title: str = "Cdn") -> dict[str, Any]:
    return _resources(params)[title]["Properties"]["DistributionConfig"]  # type: ignore[no-any-return]


def test_cloudfront_reaches_the_engine_listener_over_http_on_8000() -> None:
    config = _distribution()
    origin = config["Origins"][0]
    assert origin["DomainName"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}
    assert origin["CustomOriginConfig"]["HTTPPort"] == 8000
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "http-only"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"


def test_cloudfront_uses_https_to_the_origin_domain_when_a_certificate_is_given() -> None:
    params = StackParams(certificate_arn=CERT, origin_domain="origin.example.com")
    origin = _distribution(params)["Origins"][0]
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
    config = _distribution()
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


def test_engine_reaches_the_schedule_service_through_cloud_map() -> None:
    namespace = _one(None, "AWS::ServiceDiscovery::PrivateDnsNamespace")["Name"]["Fn::Sub"]
    engine = service_specs(StackParams())["engine"]
    assert dict(engine.environment)["CHANNELMGRAPI"] == f"http://schedule.{namespace}:8001"
    schedule = _resources(kind="AWS::ECS::Service")["ScheduleService"]["Properties"]
    assert schedule["ServiceRegistries"] == [
        {"RegistryArn": {"Fn::GetAtt": ["ScheduleDiscovery", "Arn"]}}
    ]


def test_engine_scales_on_cpu_not_on_the_requests_the_cdn_absorbs() -> None:
    policy = _one(None, "AWS::ApplicationAutoScaling::ScalingPolicy")
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ECSServiceAverageCPUUtilization"
    )
    assert tracking["TargetValue"] == 60.0


def test_sqlite_on_efs_runs_a_single_schedule_task_that_stops_before_its_replacement() -> None:
    schedule = _resources(kind="AWS::ECS::Service")["ScheduleService"]["Properties"]
    assert schedule["DesiredCount"] == 1
    deployment = schedule["DeploymentConfiguration"]
    assert (deployment["MaximumPercent"], deployment["MinimumHealthyPercent"]) == (100, 0)


def test_rds_password_reaches_the_schedule_service_from_its_one_secret() -> None:
    params = StackParams(database="rds", egress="nat")
    database = _one(params, "AWS::RDS::DBInstance")
    assert database["PubliclyAccessible"] is False
    assert database["StorageEncrypted"] is True
    container = _resources(params, "AWS::ECS::TaskDefinition")["ScheduleTaskDefinition"][
        "Properties"
    ]["ContainerDefinitions"][0]
    secrets = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
    assert set(secrets) == {"API_KEY", "DATABASE_PASSWORD"}
    assert secrets["DATABASE_PASSWORD"]["Fn::Sub"][0] == "${DatabaseCredentialsArn}:password::"
    url = next(e["Value"] for e in container["Environment"] if e["Name"] == "DATABASE_URL")
    assert "password" not in json.dumps(url)
    assert len(_resources(params, "AWS::SecretsManager::Secret")) == 3  # key, origin, database


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
    if not isinstance(value, dict):
        return value
    text = value["Fn::Sub"]
    return text if isinstance(text, str) else text[0]


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
        ({"schedule_desired_count": 2}, "schedule_desired_count"),
        ({"egress": "endpoints"}, "image"),
        ({"egress": "endpoints", "image": ECR_IMAGE, "engine_image": "vchannel:2"}, "engine_image"),
        ({"schedule_api_cidrs": ("192.0.2.0/24",) * 6}, "schedule_api_cidrs"),
        ({"allowed_sources": ("10.0.0.0/8", "bad")}, "allowed_sources"),
        ({**EXISTING, "private_subnet_ids": ()}, "private_subnet_ids"),
        ({"access_logs_bucket": "Bad_Bucket"}, "access_logs_bucket"),
        ({"origin_shield_region": "mars"}, "origin_shield_region"),
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


# --- who can reach what ------------------------------------------------------------------------
HTTPS = {"certificate_arn": CERT, "origin_domain": "origin.example.com"}


def _rules(params: StackParams | None, service: str) -> list[dict[str, Any]]:
    rules = _resources(params, "AWS::ElasticLoadBalancingV2::ListenerRule")
    return sorted(
        (
            r["Properties"]
            for r in rules.values()
            if r["Properties"]["ListenerArn"]["Ref"] == f"{service}Listener"
        ),
        key=lambda rule: rule["Priority"],
    )


def _forwarding_conditions(params: StackParams | None, service: str) -> list[dict[str, Any]]:
    return [
        rule["Conditions"][0]
        for rule in _rules(params, service)
        if rule["Actions"][0]["Type"] == "forward"
    ]


@pytest.mark.parametrize("params", _combinations(), ids=str)
def test_listeners_turn_away_every_request_without_the_origin_header(params: StackParams) -> None:
    for listener in _resources(params, "AWS::ElasticLoadBalancingV2::Listener").values():
        (action,) = listener["Properties"]["DefaultActions"]
        assert (action["Type"], action["FixedResponseConfig"]["StatusCode"]) == (
            "fixed-response",
            "403",
        )
    for service in ("Engine", "Schedule"):
        (condition,) = _forwarding_conditions(params, service)
        assert condition["Field"] == "http-header"


def test_cloudfront_sends_the_header_value_the_listeners_require() -> None:
    (header,) = _distribution()["Origins"][0]["OriginCustomHeaders"]
    (api_header,) = _distribution(None, "ApiCdn")["Origins"][0]["OriginCustomHeaders"]
    (condition,) = _forwarding_conditions(None, "Engine")
    required = condition["HttpHeaderConfig"]
    assert header == api_header
    assert (header["HeaderName"], [header["HeaderValue"]]) == (
        required["HttpHeaderName"],
        required["Values"],
    )
    assert header["HeaderValue"] == {
        "Fn::Sub": [
            "{{resolve:secretsmanager:${Secret}}}",
            {"Secret": {"Ref": "OriginVerifySecret"}},
        ]
    }


def test_metrics_and_health_are_not_served_through_the_listeners() -> None:
    for service in ("Engine", "Schedule"):
        first = _rules(None, service)[0]
        assert first["Conditions"][0]["PathPatternConfig"]["Values"] == ["/metrics", "/health"]
        assert first["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"


def test_the_api_is_served_over_https_only_through_a_distribution_that_caches_nothing() -> None:
    config = _distribution(None, "ApiCdn")
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "https-only"
    assert behavior["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CachingDisabled
    assert {"POST", "PUT", "PATCH", "DELETE"} <= set(behavior["AllowedMethods"])
    assert config["Origins"][0]["CustomOriginConfig"]["HTTPPort"] == 8001
    outputs = build_template().to_dict()["Outputs"]
    assert outputs["ScheduleApiUrl"]["Value"] == {
        "Fn::Join": ["", ["https://", {"Fn::GetAtt": ["ApiCdn", "DomainName"]}]]
    }


def test_given_networks_may_call_the_api_at_the_load_balancer() -> None:
    params = StackParams(schedule_api_cidrs=("203.0.113.0/24",))
    conditions = _forwarding_conditions(params, "Schedule")
    assert [c["Field"] for c in conditions] == ["http-header", "source-ip"]
    assert conditions[1]["SourceIpConfig"]["Values"] == ["203.0.113.0/24"]
    assert len(_forwarding_conditions(params, "Engine")) == 1


def test_a_certificate_replaces_the_plain_listeners() -> None:
    ports = {
        (listener["Properties"]["Port"], listener["Properties"]["Protocol"])
        for listener in _resources(
            StackParams(**HTTPS), "AWS::ElasticLoadBalancingV2::Listener"
        ).values()
    }
    assert ports == {(443, "HTTPS"), (8443, "HTTPS")}


def test_https_mode_outputs_the_load_balancer_name_the_domain_must_point_at() -> None:
    outputs = build_template(StackParams(**HTTPS)).to_dict()["Outputs"]
    assert outputs["LoadBalancerDnsName"]["Value"] == {"Fn::GetAtt": ["LoadBalancer", "DNSName"]}


def test_the_load_balancer_drops_invalid_header_fields() -> None:
    attributes = _one(None, "AWS::ElasticLoadBalancingV2::LoadBalancer")["LoadBalancerAttributes"]
    assert {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"} in attributes


def test_an_access_logs_bucket_gets_the_load_balancer_and_both_distributions_logs() -> None:
    params = StackParams(access_logs_bucket="ops-logs-example")
    attributes = _one(params, "AWS::ElasticLoadBalancingV2::LoadBalancer")["LoadBalancerAttributes"]
    assert {"Key": "access_logs.s3.bucket", "Value": "ops-logs-example"} in attributes
    for title in ("Cdn", "ApiCdn"):
        assert (
            _distribution(params, title)["Logging"]["Bucket"] == "ops-logs-example.s3.amazonaws.com"
        )


# --- redeploys ---------------------------------------------------------------------------------
def test_the_engine_service_leaves_its_count_to_autoscaling() -> None:
    engine = _resources(kind="AWS::ECS::Service")["EngineService"]["Properties"]
    assert "DesiredCount" not in engine
    target = _one(None, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 10)


DATA = (
    "AWS::EFS::FileSystem",
    "AWS::EFS::MountTarget",
    "AWS::EFS::AccessPoint",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBSubnetGroup",
    "AWS::SecretsManager::Secret",
)


@pytest.mark.parametrize("database", ["sqlite-efs", "rds"])
@pytest.mark.parametrize("network", [{}, EXISTING], ids=["new", "existing"])
def test_changing_egress_changes_nothing_that_holds_data(
    database: str, network: dict[str, Any]
) -> None:
    def data(egress: str) -> dict[str, Any]:
        params = StackParams(egress=egress, database=database, **network)  # type: ignore[arg-type]
        return {
            title: resource
            for title, resource in _resources(params).items()
            if resource["Type"] in DATA
        }

    public = data("public")
    assert public
    assert data("nat") == public


def test_a_new_engine_image_changes_the_engine_tasks_only() -> None:
    before = _resources(StackParams())
    after = _resources(StackParams(engine_image="vchannel:2"))
    assert before == after  # the image is a parameter...
    parameters = build_template(StackParams(engine_image="vchannel:2")).to_dict()["Parameters"]
    assert parameters["EngineImageUri"]["Default"] == "vchannel:2"
    assert parameters["ScheduleImageUri"]["Default"] == "vchannel:latest"
    users = {
        title
        for title, resource in after.items()
        if '{"Ref": "EngineImageUri"}' in json.dumps(resource)
    }
    assert users == {"EngineTaskDefinition"}  # ...that only the engine's tasks use


def test_a_new_engine_task_is_given_time_for_its_first_sync() -> None:
    services = _resources(kind="AWS::ECS::Service")
    grace = services["EngineService"]["Properties"]["HealthCheckGracePeriodSeconds"]
    assert grace >= 180  # a schedule service replaced on EFS is away one to three minutes
    engine = service_specs(StackParams())["engine"]
    assert "urlopen" not in engine.health_check_command[-1]  # liveness: any answer will do


def test_rds_runs_as_many_schedule_tasks_as_asked_and_replaces_them_rolling() -> None:
    params = StackParams(database="rds", egress="nat", schedule_desired_count=2)
    schedule = _resources(params, "AWS::ECS::Service")["ScheduleService"]["Properties"]
    deployment = schedule["DeploymentConfiguration"]
    assert schedule["DesiredCount"] == 2
    assert (deployment["MaximumPercent"], deployment["MinimumHealthyPercent"]) == (200, 100)


# --- names, tags, roles, data ------------------------------------------------------------------
def test_names_that_must_be_unique_carry_the_stack_and_region() -> None:
    policy = _one(None, "AWS::CloudFront::CachePolicy")["CachePolicyConfig"]["Name"]["Fn::Sub"]
    assert "${AWS::StackName}" in policy
    assert "${AWS::Region}" in policy
    namespace = _one(None, "AWS::ServiceDiscovery::PrivateDnsNamespace")["Name"]["Fn::Sub"]
    assert namespace.startswith("${AWS::StackName}.")


@pytest.mark.parametrize("params", _combinations(), ids=str)
def test_every_resource_that_takes_tags_is_tagged(params: StackParams) -> None:
    for resource in build_template(params).resources.values():
        for key in ("Tags", "FileSystemTags", "AccessPointTags"):
            if key in resource.props:
                tags = resource.to_dict()["Properties"][key]
                assert {"Key": "Application", "Value": "vchannel"} in tags, resource.title


def test_each_service_reads_only_its_own_secrets() -> None:
    params = StackParams(database="rds", egress="nat")
    roles = _resources(params, "AWS::IAM::Role")

    def readable(title: str) -> list[Any]:
        statement = roles[title]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]
        return statement["Resource"]  # type: ignore[no-any-return]

    assert readable("EngineExecutionRole") == [{"Ref": "ApiKeySecret"}]
    assert readable("ScheduleExecutionRole") == [
        {"Ref": "ApiKeySecret"},
        {"Ref": "DatabaseCredentials"},
    ]


def test_the_file_system_takes_only_tls_through_its_access_point() -> None:
    policy = _one(None, "AWS::EFS::FileSystem")["FileSystemPolicy"]
    denials = {s["Sid"]: s["Condition"] for s in policy["Statement"] if s["Effect"] == "Deny"}
    assert denials == {
        "TlsOnly": {"Bool": {"aws:SecureTransport": "false"}},
        "AccessPointOnly": {"Null": {"elasticfilesystem:AccessPointArn": "true"}},
    }


def test_secrets_and_logs_say_what_happens_to_them_on_delete_and_replace() -> None:
    resources = _resources(StackParams(database="rds", egress="nat"))
    for title, resource in resources.items():
        if resource["Type"] in ("AWS::SecretsManager::Secret", "AWS::Logs::LogGroup"):
            assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"], title
    assert resources["DatabaseCredentials"]["DeletionPolicy"] == "Retain"


def test_rds_is_protected_grows_and_exports_its_logs() -> None:
    database = _one(StackParams(database="rds", egress="nat"), "AWS::RDS::DBInstance")
    assert database["DeletionProtection"] is True
    assert database["MaxAllocatedStorage"] == 100
    assert database["EnableCloudwatchLogsExports"] == ["postgresql", "upgrade"]


def test_endpoints_mode_can_use_the_endpoints_a_vpc_already_has() -> None:
    params = StackParams(egress="endpoints", image=ECR_IMAGE, vpc_endpoints=False, **EXISTING)
    assert _resources(params, "AWS::EC2::VPCEndpoint") == {}
    created = StackParams(egress="endpoints", image=ECR_IMAGE)
    assert len(_resources(created, "AWS::EC2::VPCEndpoint")) == 5


def test_allowed_sources_reach_the_schedule_service() -> None:
    schedule = service_specs(StackParams(allowed_sources=("10.40.0.0/16",)))["schedule"]
    assert dict(schedule.environment)["ALLOWED_SOURCES"] == "10.40.0.0/16"


# --- checkov -----------------------------------------------------------------------------------
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.parametrize(
    "params",
    [StackParams(), StackParams(database="rds", egress="nat", **HTTPS)],
    ids=["default", "rds-nat-https"],
)
def test_checkov_finds_nothing_unsuppressed(params: StackParams, tmp_path: Path) -> None:
    import subprocess

    if not CHECKOV.exists():
        pytest.fail("checkov is not installed: ./run test installs it into .venv-checkov")
    path = tmp_path / "template.json"
    path.write_text(build_template(params).to_json())
    finished = subprocess.run(
        [str(CHECKOV), "-f", str(path), "--framework", "cloudformation", "-o", "json", "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(finished.stdout)
    failed = [(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert report["summary"]["passed"] > 40
