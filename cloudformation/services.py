"""The two services as data: one spec feeds both the CloudFormation template and the ECS task
definition files in task_definitions/ (so the two cannot drift apart)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cloudformation.params import StackParams

NAMESPACE = "${AWS::StackName}.vchannel.internal"
"""Cloud Map private DNS namespace, one per stack (two stacks can share a VPC); the engine
reaches the schedule service at schedule.<namespace>:8001 without leaving the VPC."""
DATA_PATH = "/data"
"""Where the schedule service keeps its SQLite file (an EFS access point)."""


@dataclass(frozen=True, slots=True)
class SecretRef:
    """An environment variable whose value ECS reads from a Secrets Manager secret at start."""

    variable: str
    secret: str
    """The secret's logical id in the template (its ARN is the `${<secret>Arn}` placeholder)."""
    key: str = ""
    """A JSON key of the secret's value, or the whole value."""

    @property
    def value_from(self) -> str:
        """ECS `valueFrom`, with the secret's ARN as a placeholder."""
        arn = "${" + self.secret + "Arn}"
        return f"{arn}:{self.key}::" if self.key else arn


API_KEY_SECRET = "ApiKeySecret"
DATABASE_CREDENTIALS = "DatabaseCredentials"


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    port: int
    command: tuple[str, ...]
    cpu: int
    memory: int
    environment: tuple[tuple[str, str], ...]
    secrets: tuple[SecretRef, ...]
    uses_efs: bool = False
    liveness_only: bool = False
    """The container health check asks only that the process answers (any status): the
    engine answers 503 until its first plan sync, which the load balancer's check (200 only)
    uses to keep viewers away, while a schedule service that is briefly away must not get
    new engine tasks killed."""

    @property
    def title(self) -> str:
        return self.name.capitalize()

    @property
    def health_check_command(self) -> list[str]:
        if self.liveness_only:
            probe = (
                "import http.client; "
                f"c = http.client.HTTPConnection('127.0.0.1', {self.port}, timeout=3); "
                "c.request('GET', '/health'); c.getresponse()"
            )
        else:
            probe = (
                "import urllib.request; "
                f"urllib.request.urlopen('http://127.0.0.1:{self.port}/health', timeout=3)"
            )
        return ["CMD", "python", "-c", probe]


def service_specs(params: StackParams) -> dict[str, ServiceSpec]:
    workers = max(1, params.engine_cpu // 1024)
    # A quarter of the task's memory for rendered playlists, shared out among the workers;
    # the rest holds the timelines, the asset indexes and the Python runtime of each worker.
    render_cache_mb = max(16, params.engine_memory // (4 * workers))
    engine = ServiceSpec(
        name="engine",
        port=8000,
        command=("vchannel", "engine"),
        cpu=params.engine_cpu,
        memory=params.engine_memory,
        environment=(
            ("HOST", "0.0.0.0"),
            ("PORT", "8000"),
            ("WORKERS", str(workers)),
            ("RENDER_CACHE_MB", str(render_cache_mb)),
            ("CHANNELMGRAPI", f"http://schedule.{NAMESPACE}:8001"),
            ("CORS_ORIGIN", "*"),
        ),
        # the plan feed needs the key when the schedule service has API_KEY_READS=1
        secrets=(SecretRef("CHANNELMGRAPI_KEY", API_KEY_SECRET),),
        liveness_only=True,
    )
    environment = [
        ("HOST", "0.0.0.0"),
        ("PORT", "8001"),
        ("CORS_WHITELIST", params.cors_whitelist),
        # the M3U channel list points players at the CDN (CdnDomain is a stack output)
        ("PLAYBACK_BASE_URL", "https://${CdnDomain}"),
    ]
    if params.allowed_sources:
        environment.append(("ALLOWED_SOURCES", ",".join(params.allowed_sources)))
    secrets = [SecretRef("API_KEY", API_KEY_SECRET)]
    if params.database == "rds":
        # the password stays in the one secret RDS was created with
        environment.append(
            ("DATABASE_URL", "postgresql://vchannel@${DatabaseAddress}:${DatabasePort}/vchannel")
        )
        secrets.append(SecretRef("DATABASE_PASSWORD", DATABASE_CREDENTIALS, "password"))
    else:
        # SQLite on EFS (NFS): WAL needs shared memory between processes on one host, which
        # NFS cannot give, so the rollback journal is used and only one task runs.
        environment += [
            ("DATABASE_URL", f"sqlite:///{DATA_PATH}/vchannel.db"),
            ("SQLITE_JOURNAL_MODE", "DELETE"),
        ]
    schedule = ServiceSpec(
        name="schedule",
        port=8001,
        command=("vchannel", "schedule-api"),
        cpu=params.schedule_cpu,
        memory=params.schedule_memory,
        environment=tuple(environment),
        secrets=tuple(secrets),
        uses_efs=params.database == "sqlite-efs",
    )
    return {"engine": engine, "schedule": schedule}


def task_definition_input(service: ServiceSpec) -> dict[str, Any]:
    """An ECS RegisterTaskDefinition input for a service.

    Values that only the deployed stack knows are written as ${Name} placeholders:
    <Service>ImageUri, <Service>ExecutionRoleArn, <Service>TaskRoleArn, <Service>LogGroup,
    AWS::Region, AWS::StackName, <Secret>Arn, CdnDomain, FileSystemId, AccessPointId,
    DatabaseAddress, DatabasePort. The stack's outputs give each of them (and the pseudo
    parameters are the region and stack name).
    """
    title = service.title
    container: dict[str, Any] = {
        "name": service.name,
        "image": "${" + title + "ImageUri}",
        "essential": True,
        "command": list(service.command),
        "portMappings": [{"containerPort": service.port, "protocol": "tcp"}],
        "environment": [{"name": k, "value": v} for k, v in service.environment],
        "secrets": [
            {"name": secret.variable, "valueFrom": secret.value_from} for secret in service.secrets
        ],
        "healthCheck": {
            "command": service.health_check_command,
            "interval": 15,
            "timeout": 5,
            "retries": 3,
            "startPeriod": 20,
        },
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": "${" + title + "LogGroup}",
                "awslogs-region": "${AWS::Region}",
                "awslogs-stream-prefix": service.name,
            },
        },
    }
    definition: dict[str, Any] = {
        "family": "${AWS::StackName}-" + service.name,
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": str(service.cpu),
        "memory": str(service.memory),
        "runtimePlatform": {"cpuArchitecture": "X86_64", "operatingSystemFamily": "LINUX"},
        "executionRoleArn": "${" + title + "ExecutionRoleArn}",
        "taskRoleArn": "${" + title + "TaskRoleArn}",
        "containerDefinitions": [container],
    }
    if service.uses_efs:
        container["mountPoints"] = [
            {"sourceVolume": "data", "containerPath": DATA_PATH, "readOnly": False}
        ]
        definition["volumes"] = [
            {
                "name": "data",
                "efsVolumeConfiguration": {
                    "fileSystemId": "${FileSystemId}",
                    "transitEncryption": "ENABLED",
                    "authorizationConfig": {"accessPointId": "${AccessPointId}", "iam": "ENABLED"},
                },
            }
        ]
    return definition


def write_task_definitions(directory: Path, params: StackParams | None = None) -> list[Path]:
    """Write task_definitions/<service>.json for the given (default) parameters."""
    params = params or StackParams()
    written = []
    for name, spec in service_specs(params).items():
        path = directory / f"{name}.json"
        path.write_text(json.dumps(task_definition_input(spec), indent=2) + "\n")
        written.append(path)
    return written
