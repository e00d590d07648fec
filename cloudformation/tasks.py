"""The stack's compute: the ECS cluster, roles, images and logs, a task definition and a Fargate
service per service, and the engine's autoscaling."""

from __future__ import annotations

from troposphere import GetAtt, Join, Parameter, Ref, Sub, ecs, iam, logs
from troposphere import applicationautoscaling as autoscaling
from troposphere import servicediscovery as discovery

from cloudformation.base import KMS_DEFAULT, checkov_skip
from cloudformation.edge import EdgeStack
from cloudformation.services import DATA_PATH, NAMESPACE, ServiceSpec

ENGINE_HEALTH_GRACE_S = 300
"""How long a new engine task may stay out of the load balancer before ECS replaces it: an
engine is not ready until its first plan sync, and with SQLite on EFS the schedule service is
away while its own task is replaced (stop, provision, pull, migrate: one to three minutes)."""


class TaskStack(EdgeStack):
    """The cluster, roles, task definitions, services and autoscaling."""

    # --- compute -------------------------------------------------------------------------
    def cluster_and_roles(self) -> None:
        p, t = self.p, self.t
        self.cluster = t.add_resource(
            ecs.Cluster(
                "Cluster",
                ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
            )
        )
        self.log_groups = {
            name: t.add_resource(
                logs.LogGroup(
                    f"{spec.title}LogGroup",
                    DeletionPolicy="Retain",
                    UpdateReplacePolicy="Retain",
                    RetentionInDays=p.log_retention_days,
                    Metadata=checkov_skip(("CKV_AWS_158", KMS_DEFAULT)),
                )
            )
            for name, spec in self.specs.items()
        }
        assume = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        # one execution role per service: each reads the secrets its own tasks are given
        self.execution_roles = {
            name: t.add_resource(
                iam.Role(
                    f"{spec.title}ExecutionRole",
                    AssumeRolePolicyDocument=assume,
                    ManagedPolicyArns=[
                        Sub(
                            "arn:${AWS::Partition}:iam::aws:policy/service-role/"
                            "AmazonECSTaskExecutionRolePolicy"
                        )
                    ],
                    Policies=[
                        iam.Policy(
                            PolicyName="read-service-secrets",
                            PolicyDocument={
                                "Version": "2012-10-17",
                                "Statement": [
                                    {
                                        "Effect": "Allow",
                                        "Action": "secretsmanager:GetSecretValue",
                                        "Resource": [
                                            self.secret_refs[title]
                                            for title in sorted({s.secret for s in spec.secrets})
                                        ],
                                    }
                                ],
                            },
                        )
                    ],
                )
            )
            for name, spec in self.specs.items()
        }
        # The engine needs no AWS permissions at all; the schedule service only its file system.
        self.task_roles = {
            "engine": t.add_resource(iam.Role("EngineTaskRole", AssumeRolePolicyDocument=assume))
        }
        schedule_policies = []
        if p.database == "sqlite-efs":
            schedule_policies.append(
                iam.Policy(
                    PolicyName="mount-data",
                    PolicyDocument={
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Action": [
                                    "elasticfilesystem:ClientMount",
                                    "elasticfilesystem:ClientWrite",
                                ],
                                "Resource": GetAtt(self.file_system, "Arn"),
                                "Condition": {
                                    "StringEquals": {
                                        "elasticfilesystem:AccessPointArn": GetAtt(
                                            self.access_point, "Arn"
                                        )
                                    }
                                },
                            }
                        ],
                    },
                )
            )
        self.task_roles["schedule"] = t.add_resource(
            iam.Role(
                "ScheduleTaskRole", AssumeRolePolicyDocument=assume, Policies=schedule_policies
            )
        )
        # one image parameter per service: a deploy that changes one replaces its tasks only
        self.images = {
            name: t.add_parameter(
                Parameter(
                    f"{spec.title}ImageUri",
                    Type="String",
                    Default=p.image_of(name),
                    Description=f"Container image of vchannel that runs the {name} service",
                )
            )
            for name, spec in self.specs.items()
        }

    def environment_value(self, value: str) -> object:
        """A value with ${Name} placeholders (services.py) as the stack resolves them."""
        if "${" not in value:
            return value
        known: dict[str, object] = {"CdnDomain": GetAtt(self.distribution, "DomainName")}
        if self.p.database == "rds":
            known["DatabaseAddress"] = GetAtt(self.database_instance, "Endpoint.Address")
            known["DatabasePort"] = GetAtt(self.database_instance, "Endpoint.Port")
        used = {name: ref for name, ref in known.items() if "${" + name + "}" in value}
        return Sub(value, **used)

    def task_definition(self, spec: ServiceSpec) -> ecs.TaskDefinition:
        container = ecs.ContainerDefinition(
            Name=spec.name,
            Image=Ref(self.images[spec.name]),
            Essential=True,
            Command=list(spec.command),
            PortMappings=[ecs.PortMapping(ContainerPort=spec.port, Protocol="tcp")],
            Environment=[
                ecs.Environment(Name=k, Value=self.environment_value(v))
                for k, v in spec.environment
            ],
            Secrets=[
                ecs.Secret(
                    Name=secret.variable,
                    ValueFrom=Sub(secret.value_from, **{secret.secret + "Arn": ref})
                    if secret.key
                    else ref,
                )
                for secret in spec.secrets
                for ref in [self.secret_refs[secret.secret]]
            ],
            HealthCheck=ecs.HealthCheck(
                Command=spec.health_check_command, Interval=15, Timeout=5, Retries=3, StartPeriod=20
            ),
            LogConfiguration=ecs.LogConfiguration(
                LogDriver="awslogs",
                Options={
                    "awslogs-group": Ref(self.log_groups[spec.name]),
                    "awslogs-region": Ref("AWS::Region"),
                    "awslogs-stream-prefix": spec.name,
                },
            ),
        )
        extra: dict[str, object] = {}
        if spec.uses_efs:
            container.MountPoints = [
                ecs.MountPoint(SourceVolume="data", ContainerPath=DATA_PATH, ReadOnly=False)
            ]
            extra["Volumes"] = [
                ecs.Volume(
                    Name="data",
                    EFSVolumeConfiguration=ecs.EFSVolumeConfiguration(
                        FilesystemId=Ref(self.file_system),
                        TransitEncryption="ENABLED",
                        AuthorizationConfig=ecs.AuthorizationConfig(
                            AccessPointId=Ref(self.access_point), IAM="ENABLED"
                        ),
                    ),
                )
            ]
        return self.t.add_resource(
            ecs.TaskDefinition(
                f"{spec.title}TaskDefinition",
                Family=Sub("${AWS::StackName}-" + spec.name),
                Cpu=str(spec.cpu),
                Memory=str(spec.memory),
                NetworkMode="awsvpc",
                RequiresCompatibilities=["FARGATE"],
                RuntimePlatform=ecs.RuntimePlatform(
                    CpuArchitecture="X86_64", OperatingSystemFamily="LINUX"
                ),
                ExecutionRoleArn=GetAtt(self.execution_roles[spec.name], "Arn"),
                TaskRoleArn=GetAtt(self.task_roles[spec.name], "Arn"),
                ContainerDefinitions=[container],
                **extra,
            )
        )

    # --- services ------------------------------------------------------------------------
    def services(self) -> None:
        p, t = self.p, self.t
        namespace = t.add_resource(
            discovery.PrivateDnsNamespace(
                "Namespace", Name=Sub(NAMESPACE), Vpc=self.vpc, Description="vchannel services"
            )
        )
        registry = t.add_resource(
            discovery.Service(
                "ScheduleDiscovery",
                Name="schedule",
                NamespaceId=Ref(namespace),
                DnsConfig=discovery.DnsConfig(
                    RoutingPolicy="MULTIVALUE",
                    DnsRecords=[discovery.DnsRecord(Type="A", TTL=10)],
                ),
                HealthCheckCustomConfig=discovery.HealthCheckCustomConfig(FailureThreshold=1),
            )
        )
        groups = {"engine": self.engine_group, "schedule": self.schedule_group}
        self.ecs_services: dict[str, ecs.Service] = {}
        for name, spec in self.specs.items():
            definition = self.task_definition(spec)
            single_writer = name == "schedule" and p.database == "sqlite-efs"
            # the target group is attached by the listener's rules
            depends = [
                title for title in t.resources if title.startswith(f"{spec.title}ListenerRule")
            ]
            if single_writer:
                depends += [m.title for m in self.mount_targets]
            scaled: dict[str, object] = {}
            if name == "schedule":
                scaled["DesiredCount"] = p.schedule_desired_count
            # the engine has no DesiredCount: CloudFormation would reset the autoscaled count
            # to it on every update; autoscaling's minimum raises a new service's 1 task
            service = ecs.Service(
                f"{spec.title}Service",
                DependsOn=depends,
                Cluster=Ref(self.cluster),
                TaskDefinition=Ref(definition),
                LaunchType="FARGATE",
                HealthCheckGracePeriodSeconds=ENGINE_HEALTH_GRACE_S if name == "engine" else 60,
                PropagateTags="SERVICE",
                EnableECSManagedTags=True,
                DeploymentConfiguration=ecs.DeploymentConfiguration(
                    DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(
                        Enable=True, Rollback=True
                    ),
                    # SQLite allows one writer: stop the old task before starting the new one.
                    MaximumPercent=100 if single_writer else 200,
                    MinimumHealthyPercent=0 if single_writer else 100,
                ),
                NetworkConfiguration=ecs.NetworkConfiguration(
                    AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                        AssignPublicIp="ENABLED" if p.egress == "public" else "DISABLED",
                        Subnets=self.task_subnets,
                        SecurityGroups=[Ref(groups[name])],
                    )
                ),
                LoadBalancers=[
                    ecs.LoadBalancer(
                        ContainerName=spec.name,
                        ContainerPort=spec.port,
                        TargetGroupArn=Ref(self.target_groups[name]),
                    )
                ],
                **scaled,
            )
            if name == "schedule":
                service.ServiceRegistries = [
                    ecs.ServiceRegistry(RegistryArn=GetAtt(registry, "Arn"))
                ]
            self.ecs_services[name] = t.add_resource(service)

    def autoscaling(self) -> None:
        p, t = self.p, self.t
        target = t.add_resource(
            autoscaling.ScalableTarget(
                "EngineScalableTarget",
                ServiceNamespace="ecs",
                ScalableDimension="ecs:service:DesiredCount",
                ResourceId=Join(
                    "/",
                    ["service", Ref(self.cluster), GetAtt(self.ecs_services["engine"], "Name")],
                ),
                MinCapacity=p.engine_desired_count,
                MaxCapacity=p.engine_max_count,
            )
        )
        # CPU, not requests per target: the CDN absorbs viewer requests, so the requests that
        # reach the engines say little about how busy they are
        t.add_resource(
            autoscaling.ScalingPolicy(
                "EngineCpuScaling",
                PolicyName=f"{p.name}-engine-cpu",
                PolicyType="TargetTrackingScaling",
                ScalingTargetId=Ref(target),
                TargetTrackingScalingPolicyConfiguration=autoscaling.TargetTrackingScalingPolicyConfiguration(
                    TargetValue=float(p.engine_cpu_target),
                    ScaleInCooldown=120,
                    ScaleOutCooldown=30,
                    PredefinedMetricSpecification=autoscaling.PredefinedMetricSpecification(
                        PredefinedMetricType="ECSServiceAverageCPUUtilization"
                    ),
                ),
            )
        )
