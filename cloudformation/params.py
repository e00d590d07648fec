"""Stack parameters: a typed, validated value with defaults for a cheap trial stack."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args, get_type_hints

Egress = Literal["public", "nat", "endpoints"]
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
    vpc_id: str = ""
    public_subnet_ids: tuple[str, ...] = ()
    private_subnet_ids: tuple[str, ...] = ()
    private_route_table_ids: tuple[str, ...] = ()
    egress: Egress = "public"
    engine_cpu: int = 256
    engine_memory: int = 512
    engine_desired_count: int = 2
    engine_max_count: int = 10
    engine_requests_per_target: int = 2000
    schedule_cpu: int = 256
    schedule_memory: int = 512
    database: Database = "sqlite-efs"
    rds_instance_class: str = "db.t4g.micro"
    rds_engine_version: str = "17.6"
    rds_multi_az: bool = False
    rds_backup_days: int = 7
    certificate_arn: str = ""
    origin_domain: str = ""
    schedule_api_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    cors_whitelist: str = ""
    log_retention_days: int = 30
    price_class: Literal["PriceClass_100", "PriceClass_200", "PriceClass_All"] = "PriceClass_100"

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,19}", self.name):
            raise ParamsError("name: 1-20 characters, lower-case letters, digits and '-'")
        if not self.image:
            raise ParamsError("image: give the container image URI")
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
        if self.engine_requests_per_target < 1:
            raise ParamsError("engine_requests_per_target: must be positive")
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
            if self.database == "rds" and len(self.private_subnet_ids) < 2:
                raise ParamsError("private_subnet_ids: RDS needs two private subnets")
        elif self.public_subnet_ids or self.private_subnet_ids:
            raise ParamsError("vpc_id: subnet ids are only used with an existing VPC")
        if self.certificate_arn and not self.origin_domain:
            raise ParamsError(
                "origin_domain: HTTPS to the load balancer needs a domain name that the "
                "certificate covers and that points at the load balancer"
            )
        for cidr in self.schedule_api_cidrs:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ParamsError(f"schedule_api_cidrs: {cidr!r} is not a CIDR block") from None
        if self.log_retention_days not in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365):
            raise ParamsError("log_retention_days: not a CloudWatch Logs retention value")
        if not 1 <= self.rds_backup_days <= 35:
            raise ParamsError("rds_backup_days: 1 to 35")

    @property
    def https(self) -> bool:
        return bool(self.certificate_arn)

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
