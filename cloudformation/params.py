"""Stack parameters: a typed, validated value with defaults for a cheap trial stack."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args, get_type_hints

Egress = Literal["public", "nat", "endpoints"]
ECR_IMAGE = re.compile(r"\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/.+")
"""An image in a private ECR repository (what tasks without internet egress can pull)."""
Database = Literal["sqlite-efs", "rds"]

FARGATE_MEMORY = {
    256: range(512, 2049, 512),
    512: range(1024, 4097, 1024),
    1024: range(2048, 8193, 1024),
    2048: range(4096, 16385, 1024),
    4096: range(8192, 30721, 1024),
}
"""Valid Fargate (CPU units -> memory MiB) pairs."""


class ParamsError(ValueError):
    """A stack parameter is invalid; the message names it."""


@dataclass(frozen=True, slots=True)
class StackParams:
    """What `build_template` needs. Defaults give the cheapest working stack.

    Network: `vpc_id` empty creates a VPC with two public and two private subnets in two
    availability zones; otherwise the given VPC and subnets are used. `egress` says how tasks
    reach ECR, CloudWatch Logs and Secrets Manager: `public` (tasks in public subnets with
    public IPs), `nat` (private subnets behind one NAT gateway) or `endpoints` (private subnets
    with VPC endpoints only).
    """

    name: str = "vchannel"
    image: str = "vchannel:latest"
    engine_image: str = ""
    """The engine's image when it differs from `image`: a deploy that changes it replaces the
    engine tasks only."""
    schedule_image: str = ""
    """The schedule service's image when it differs from `image`."""
    vpc_id: str = ""
    public_subnet_ids: tuple[str, ...] = ()
    private_subnet_ids: tuple[str, ...] = ()
    private_route_table_ids: tuple[str, ...] = ()
    egress: Egress = "public"
    vpc_endpoints: bool = True
    """With egress=endpoints: create the VPC endpoints. False when the VPC already has them
    (with private DNS for ECR api, ECR dkr, Logs and Secrets Manager, and an S3 gateway)."""
    engine_cpu: int = 256
    engine_memory: int = 512
    engine_desired_count: int = 2
    """The engine's minimum task count (autoscaling keeps it between this and the maximum)."""
    engine_max_count: int = 10
    engine_cpu_target: int = 60
    """Average CPU percent the engine's autoscaling keeps its tasks at."""
    schedule_cpu: int = 256
    schedule_memory: int = 512
    schedule_desired_count: int = 1
    """More than one schedule task needs RDS (SQLite on EFS allows one writer)."""
    database: Database = "sqlite-efs"
    rds_instance_class: str = "db.t4g.micro"
    rds_engine_version: str = "17.6"
    rds_multi_az: bool = False
    rds_backup_days: int = 7
    rds_deletion_protection: bool = True
    rds_max_storage_gb: int = 100
    """Storage autoscaling ceiling (the instance starts at 20 GB)."""
    rds_performance_insights: bool = False
    certificate_arn: str = ""
    origin_domain: str = ""
    schedule_api_cidrs: tuple[str, ...] = ()
    """Networks that may also call the schedule API at the load balancer directly, without
    CloudFront (at most 5; over plain HTTP on 8001 unless a certificate is given). By default
    the API is reached over HTTPS through its own distribution only."""
    allowed_sources: tuple[str, ...] = ()
    """ALLOWED_SOURCES of the schedule service: private networks ingest may fetch from."""
    cors_whitelist: str = ""
    log_retention_days: int = 30
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"
    origin_shield_region: str = ""
    """A region for CloudFront Origin Shield in front of the engine (e.g. the stack's)."""
    access_logs_bucket: str = ""
    """An S3 bucket for load balancer and CloudFront access logs (its policy must let both
    services write)."""

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,19}", self.name):
            raise ParamsError("name: 1-20 characters, lower-case letters, digits and '-'")
        for field in ("image", "engine_image", "schedule_image"):
            value = getattr(self, field)
            if field == "image" and not value:
                raise ParamsError("image: give the container image URI")
            if value and not re.fullmatch(r"[a-z0-9][a-z0-9._/:@-]{0,254}", value):
                raise ParamsError(f"{field}: {value!r} is not an image reference")
            if value and self.egress == "endpoints" and not ECR_IMAGE.match(value):
                raise ParamsError(
                    f"{field}: with egress=endpoints the tasks can pull from ECR only "
                    "(<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>)"
                )
        for service in ("engine", "schedule"):
            cpu, memory = getattr(self, f"{service}_cpu"), getattr(self, f"{service}_memory")
            if cpu not in FARGATE_MEMORY or memory not in FARGATE_MEMORY[cpu]:
                raise ParamsError(
                    f"{service}_cpu/{service}_memory: {cpu}/{memory} is not a Fargate size "
                    f"(for {cpu} CPU units: {list(FARGATE_MEMORY.get(cpu, []))} MiB)"
                )
        if not 1 <= self.engine_desired_count <= self.engine_max_count:
            raise ParamsError(
                "engine_desired_count: must be at least 1 and at most engine_max_count"
            )
        if not 10 <= self.engine_cpu_target <= 90:
            raise ParamsError("engine_cpu_target: a percentage from 10 to 90")
        if not 1 <= self.schedule_desired_count <= 10:
            raise ParamsError("schedule_desired_count: 1 to 10")
        if self.schedule_desired_count > 1 and self.database != "rds":
            raise ParamsError(
                "schedule_desired_count: SQLite on EFS allows one schedule task; use database=rds"
            )
        if not 20 <= self.rds_max_storage_gb <= 65536:
            raise ParamsError("rds_max_storage_gb: 20 to 65536")
        for field, prefix, values in (
            ("vpc_id", "vpc", (self.vpc_id,) if self.vpc_id else ()),
            ("public_subnet_ids", "subnet", self.public_subnet_ids),
            ("private_subnet_ids", "subnet", self.private_subnet_ids),
            ("private_route_table_ids", "rtb", self.private_route_table_ids),
        ):
            for value in values:
                if not re.fullmatch(prefix + r"-([0-9a-f]{8}|[0-9a-f]{17})", value):
                    raise ParamsError(f"{field}: {value!r} is not a {prefix}-... id")
        if self.vpc_id:
            if len(self.public_subnet_ids) < 2:
                raise ParamsError("public_subnet_ids: an existing VPC needs two public subnets")
            if self.egress != "public" and len(self.private_subnet_ids) < 2:
                raise ParamsError("private_subnet_ids: give two private subnets for nat/endpoints")
            if self.egress == "endpoints" and not self.private_route_table_ids:
                raise ParamsError(
                    "private_route_table_ids: the S3 gateway endpoint needs the VPC's private "
                    "route tables"
                )
            if len(self.private_subnet_ids) < 2:
                raise ParamsError(
                    "private_subnet_ids: the database (RDS or EFS mount targets) lives in two "
                    "private subnets, so that changing egress never moves it"
                )
        elif self.public_subnet_ids or self.private_subnet_ids:
            raise ParamsError("vpc_id: subnet ids are only used with an existing VPC")
        if self.certificate_arn and not self.origin_domain:
            raise ParamsError(
                "origin_domain: HTTPS to the load balancer needs a domain name that the "
                "certificate covers and that points at the load balancer"
            )
        for field in ("schedule_api_cidrs", "allowed_sources"):
            for cidr in getattr(self, field):
                try:
                    ipaddress.ip_network(cidr)
                except ValueError:
                    raise ParamsError(f"{field}: {cidr!r} is not a CIDR block") from None
        if len(self.schedule_api_cidrs) > 5:
            raise ParamsError("schedule_api_cidrs: at most 5 (one listener rule condition)")
        if self.origin_shield_region and not re.fullmatch(
            r"[a-z]{2}(-[a-z]+)+-\d", self.origin_shield_region
        ):
            raise ParamsError(
                f"origin_shield_region: {self.origin_shield_region!r} is not a region"
            )
        if self.access_logs_bucket and not re.fullmatch(
            r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", self.access_logs_bucket
        ):
            raise ParamsError(
                f"access_logs_bucket: {self.access_logs_bucket!r} is not a bucket name"
            )
        if self.log_retention_days not in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365):
            raise ParamsError("log_retention_days: not a CloudWatch Logs retention value")
        if not 1 <= self.rds_backup_days <= 35:
            raise ParamsError("rds_backup_days: 1 to 35")

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn)

    def image_of(self, service: str) -> str:
        """The image a service runs ("engine" or "schedule")."""
        return str(getattr(self, f"{service}_image")) or self.image

    @classmethod
    def from_pairs(cls, pairs: Iterable[str]) -> StackParams:
        """Parse `field=value` strings (the CLI's --param); tuples are comma-separated."""
        hints = get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for pair in pairs:
            field, sep, raw = pair.partition("=")
            if not sep or field not in names:
                raise ParamsError(f"{pair!r}: expected field=value with a field of {sorted(names)}")
            kind = hints[field]
            if kind is bool:
                if raw.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ParamsError(f"{field}: {raw!r} is not true or false")
                values[field] = raw.lower() in ("true", "1", "yes")
            elif kind is int:
                try:
                    values[field] = int(raw)
                except ValueError:
                    raise ParamsError(f"{field}: {raw!r} is not a whole number") from None
            elif kind == tuple[str, ...]:
                values[field] = tuple(part for part in raw.split(",") if part)
            else:
                allowed = get_args(kind)
                if allowed and raw not in allowed:
                    raise ParamsError(f"{field}: {raw!r} is not one of {list(allowed)}")
                values[field] = raw
        return cls(**values)  # type: ignore[arg-type]
