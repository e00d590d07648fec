"""build_template(params) -> troposphere.Template: the whole AWS stack, with no AWS calls.

Shape: ECS Fargate services for the engine (8000) and the schedule service (8001) behind one
internet-facing ALB with one listener each; CloudFront in front of the engine listener, with a
cache policy that honours the engine's Cache-Control and keys on the `channel` query string
only; Cloud Map so the engine reaches the schedule service inside the VPC; target-tracking
autoscaling of the engine; SQLite on EFS or RDS PostgreSQL for the schedule store.
"""

from __future__ import annotations

from troposphere import (
    GetAtt,
    GetAZs,
    Join,
    Output,
    Parameter,
    Ref,
    Select,
    Sub,
    Tags,
    Template,
    cloudfront,
    ec2,
    ecs,
    efs,
    iam,
    logs,
    rds,
    secretsmanager,
)
from troposphere import applicationautoscaling as autoscaling
from troposphere import elasticloadbalancingv2 as elb
from troposphere import servicediscovery as discovery

from cloudformation.params import StackParams
from cloudformation.services import (
    DATA_PATH,
    NAMESPACE,
    ServiceSpec,
    secret_logical_id,
    service_specs,
)
from common import cdn as cdn_policy

VPC_CIDR = "10.40.0.0/16"
PUBLIC_CIDRS = ("10.40.0.0/20", "10.40.16.0/20")
PRIVATE_CIDRS = ("10.40.128.0/20", "10.40.144.0/20")


class _Stack:
    """Builds the template in steps; each step adds one part of the stack."""

    def __init__(self, params: StackParams) -> None:
        self.p = params
        self.t = Template(
            Description=f"vchannel ({params.name}): virtual linear channels on ECS Fargate, "
            "ALB and CloudFront"
        )
        self.specs = service_specs(params)

    def tag(self, name: str) -> Tags:
        return Tags(Name=f"{self.p.name}-{name}", Application="vchannel")

    # --- network -------------------------------------------------------------------------
    def network(self) -> None:
        p, t = self.p, self.t
        if p.vpc_id:
            self.vpc = p.vpc_id
            self.public_subnets: list[object] = list(p.public_subnet_ids)
            self.private_subnets: list[object] = list(p.private_subnet_ids)
            self.private_route_tables: list[object] = list(p.private_route_table_ids)
            return
        vpc = t.add_resource(
            ec2.VPC(
                "Vpc",
                CidrBlock=VPC_CIDR,
                EnableDnsHostnames=True,
                EnableDnsSupport=True,
                Tags=self.tag("vpc"),
            )
        )
        self.vpc = Ref(vpc)
        gateway = t.add_resource(ec2.InternetGateway("InternetGateway", Tags=self.tag("igw")))
        attachment = t.add_resource(
            ec2.VPCGatewayAttachment(
                "GatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(gateway)
            )
        )
        public_table = t.add_resource(
            ec2.RouteTable("PublicRouteTable", VpcId=Ref(vpc), Tags=self.tag("public"))
        )
        t.add_resource(
            ec2.Route(
                "PublicDefaultRoute",
                DependsOn=attachment.title,
                RouteTableId=Ref(public_table),
                DestinationCidrBlock="0.0.0.0/0",
                GatewayId=Ref(gateway),
            )
        )
        self.public_subnets, self.private_subnets, self.private_route_tables = [], [], []
        for index, (public_cidr, private_cidr) in enumerate(
            zip(PUBLIC_CIDRS, PRIVATE_CIDRS, strict=True)
        ):
            zone = Select(index, GetAZs(""))
            letter = "AB"[index]
            public = t.add_resource(
                ec2.Subnet(
                    f"PublicSubnet{letter}",
                    VpcId=Ref(vpc),
                    CidrBlock=public_cidr,
                    AvailabilityZone=zone,
                    MapPublicIpOnLaunch=p.egress == "public",
                    Tags=self.tag(f"public-{letter.lower()}"),
                )
            )
            t.add_resource(
                ec2.SubnetRouteTableAssociation(
                    f"PublicSubnet{letter}Routes",
                    SubnetId=Ref(public),
                    RouteTableId=Ref(public_table),
                )
            )
            private = t.add_resource(
                ec2.Subnet(
                    f"PrivateSubnet{letter}",
                    VpcId=Ref(vpc),
                    CidrBlock=private_cidr,
                    AvailabilityZone=zone,
                    Tags=self.tag(f"private-{letter.lower()}"),
                )
            )
            table = t.add_resource(
                ec2.RouteTable(
                    f"PrivateRouteTable{letter}",
                    VpcId=Ref(vpc),
                    Tags=self.tag(f"private-{letter.lower()}"),
                )
            )
            t.add_resource(
                ec2.SubnetRouteTableAssociation(
                    f"PrivateSubnet{letter}Routes", SubnetId=Ref(private), RouteTableId=Ref(table)
                )
            )
            self.public_subnets.append(Ref(public))
            self.private_subnets.append(Ref(private))
            self.private_route_tables.append(Ref(table))
        if p.egress == "nat":
            # One NAT gateway for both zones: half the cost of one per zone, at the price of
            # losing egress from zone B if zone A fails.
            address = t.add_resource(
                ec2.EIP("NatAddress", Domain="vpc", DependsOn=attachment.title)
            )
            nat = t.add_resource(
                ec2.NatGateway(
                    "NatGateway",
                    AllocationId=GetAtt(address, "AllocationId"),
                    SubnetId=self.public_subnets[0],
                    Tags=self.tag("nat"),
                )
            )
            for index, table in enumerate(self.private_route_tables):
                t.add_resource(
                    ec2.Route(
                        f"PrivateDefaultRoute{'AB'[index]}",
                        RouteTableId=table,
                        DestinationCidrBlock="0.0.0.0/0",
                        NatGatewayId=Ref(nat),
                    )
                )

    def group(
        self, title: str, description: str, port: int, sources: list[ec2.SecurityGroup], tag: str
    ) -> ec2.SecurityGroup:
        """A security group that admits TCP `port` from the given security groups only."""
        return self.t.add_resource(
            ec2.SecurityGroup(
                title,
                GroupDescription=description,
                VpcId=self.vpc,
                SecurityGroupIngress=[
                    ec2.SecurityGroupRule(
                        IpProtocol="tcp",
                        FromPort=port,
                        ToPort=port,
                        SourceSecurityGroupId=Ref(source),
                    )
                    for source in sources
                ],
                Tags=self.tag(tag),
            )
        )

    @property
    def task_subnets(self) -> list[object]:
        return self.public_subnets if self.p.egress == "public" else self.private_subnets

    def endpoints(self) -> None:
        """VPC endpoints for tasks without internet egress: ECR (api, dkr), Logs, Secrets
        Manager as interface endpoints, S3 (ECR's layer storage) as a gateway endpoint."""
        if self.p.egress != "endpoints":
            return
        t = self.t
        group = self.group(
            "EndpointSecurityGroup",
            "HTTPS from the tasks to the VPC endpoints",
            443,
            [self.engine_group, self.schedule_group],
            "endpoints",
        )
        for name, service in (
            ("EcrApi", "ecr.api"),
            ("EcrDkr", "ecr.dkr"),
            ("Logs", "logs"),
            ("SecretsManager", "secretsmanager"),
        ):
            t.add_resource(
                ec2.VPCEndpoint(
                    f"{name}Endpoint",
                    VpcId=self.vpc,
                    ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                    VpcEndpointType="Interface",
                    PrivateDnsEnabled=True,
                    SubnetIds=self.private_subnets,
                    SecurityGroupIds=[Ref(group)],
                )
            )
        t.add_resource(
            ec2.VPCEndpoint(
                "S3Endpoint",
                VpcId=self.vpc,
                ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
                VpcEndpointType="Gateway",
                RouteTableIds=self.private_route_tables,
            )
        )

    # --- security groups -----------------------------------------------------------------
    def security_groups(self) -> None:
        p, t = self.p, self.t
        ingress = [
            ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=8000, ToPort=8000, CidrIp="0.0.0.0/0"),
        ]
        ingress += [
            ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=8001, ToPort=8001, CidrIp=cidr)
            for cidr in p.schedule_api_cidrs
        ]
        if p.https:
            ingress.append(
                ec2.SecurityGroupRule(
                    IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0"
                )
            )
            ingress += [
                ec2.SecurityGroupRule(IpProtocol="tcp", FromPort=8443, ToPort=8443, CidrIp=cidr)
                for cidr in p.schedule_api_cidrs
            ]
        self.alb_group = t.add_resource(
            ec2.SecurityGroup(
                "LoadBalancerSecurityGroup",
                GroupDescription="Viewers and CloudFront to the engine, operators to the API",
                VpcId=self.vpc,
                SecurityGroupIngress=ingress,
                Tags=self.tag("alb"),
            )
        )
        self.engine_group = self.group(
            "EngineSecurityGroup",
            "Engine tasks: only the load balancer reaches port 8000",
            8000,
            [self.alb_group],
            "engine",
        )
        self.schedule_group = self.group(
            "ScheduleSecurityGroup",
            "Schedule tasks: the load balancer and the engine reach port 8001",
            8001,
            [self.alb_group, self.engine_group],
            "schedule",
        )

    # --- data ----------------------------------------------------------------------------
    def secrets(self) -> None:
        t = self.t
        self.secret_refs: dict[str, object] = {}
        api_key = t.add_resource(
            secretsmanager.Secret(
                secret_logical_id("API_KEY"),
                Description="vchannel schedule API key (Authorization: Bearer <key> for writes)",
                GenerateSecretString=secretsmanager.GenerateSecretString(
                    PasswordLength=40, ExcludePunctuation=True
                ),
            )
        )
        self.secret_refs["API_KEY"] = Ref(api_key)

    def database(self) -> None:
        p, t = self.p, self.t
        if p.database == "rds":
            group = self.group(
                "DatabaseSecurityGroup",
                "PostgreSQL from the schedule tasks only",
                5432,
                [self.schedule_group],
                "database",
            )
            credentials = t.add_resource(
                secretsmanager.Secret(
                    "DatabaseCredentials",
                    Description="vchannel PostgreSQL master credentials",
                    GenerateSecretString=secretsmanager.GenerateSecretString(
                        SecretStringTemplate='{"username": "vchannel"}',
                        GenerateStringKey="password",
                        PasswordLength=32,
                        ExcludePunctuation=True,
                    ),
                )
            )
            subnets = t.add_resource(
                rds.DBSubnetGroup(
                    "DatabaseSubnets",
                    DBSubnetGroupDescription="vchannel database subnets (private)",
                    SubnetIds=self.private_subnets,
                )
            )
            resolve = "{{resolve:secretsmanager:${DatabaseCredentials}:SecretString:%s}}"
            instance = t.add_resource(
                rds.DBInstance(
                    "Database",
                    DeletionPolicy="Snapshot",
                    UpdateReplacePolicy="Snapshot",
                    Engine="postgres",
                    EngineVersion=p.rds_engine_version,
                    AutoMinorVersionUpgrade=True,
                    DBInstanceClass=p.rds_instance_class,
                    AllocatedStorage="20",
                    StorageType="gp3",
                    StorageEncrypted=True,
                    MultiAZ=p.rds_multi_az,
                    BackupRetentionPeriod=p.rds_backup_days,
                    DBName="vchannel",
                    MasterUsername=Sub(resolve % "username"),
                    MasterUserPassword=Sub(resolve % "password"),
                    DBSubnetGroupName=Ref(subnets),
                    VPCSecurityGroups=[Ref(group)],
                    PubliclyAccessible=False,
                    CopyTagsToSnapshot=True,
                )
            )
            url = t.add_resource(
                secretsmanager.Secret(
                    secret_logical_id("DATABASE_URL"),
                    Description="vchannel DATABASE_URL for the schedule service",
                    SecretString=Sub(
                        "postgresql://{{resolve:secretsmanager:${DatabaseCredentials}:SecretString:"
                        "username}}:{{resolve:secretsmanager:${DatabaseCredentials}:SecretString:"
                        "password}}@${Database.Endpoint.Address}:${Database.Endpoint.Port}/vchannel"
                    ),
                )
            )
            del credentials, instance
            self.secret_refs["DATABASE_URL"] = Ref(url)
            return
        group = self.group(
            "FileSystemSecurityGroup",
            "NFS from the schedule tasks only",
            2049,
            [self.schedule_group],
            "efs",
        )
        self.file_system = t.add_resource(
            efs.FileSystem(
                "FileSystem",
                DeletionPolicy="Retain",
                UpdateReplacePolicy="Retain",
                Encrypted=True,
                BackupPolicy=efs.BackupPolicy(Status="ENABLED"),
                FileSystemTags=self.tag("data"),
            )
        )
        self.mount_targets = [
            t.add_resource(
                efs.MountTarget(
                    f"MountTarget{'AB'[index]}",
                    FileSystemId=Ref(self.file_system),
                    SubnetId=subnet,
                    SecurityGroups=[Ref(group)],
                )
            )
            for index, subnet in enumerate(self.task_subnets)
        ]
        self.access_point = t.add_resource(
            efs.AccessPoint(
                "AccessPoint",
                FileSystemId=Ref(self.file_system),
                PosixUser=efs.PosixUser(Uid="1000", Gid="1000"),
                RootDirectory=efs.RootDirectory(
                    Path="/vchannel",
                    CreationInfo=efs.CreationInfo(
                        OwnerUid="1000", OwnerGid="1000", Permissions="750"
                    ),
                ),
            )
        )

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
                logs.LogGroup(f"{name.capitalize()}LogGroup", RetentionInDays=p.log_retention_days)
            )
            for name in self.specs
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
        self.execution_role = t.add_resource(
            iam.Role(
                "ExecutionRole",
                AssumeRolePolicyDocument=assume,
                ManagedPolicyArns=[
                    "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
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
                                    "Resource": list(self.secret_refs.values()),
                                }
                            ],
                        },
                    )
                ],
            )
        )
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
        self.image = t.add_parameter(
            Parameter(
                "ImageUri",
                Type="String",
                Default=p.image,
                Description="Container image of vchannel (one image runs both services)",
            )
        )

    def environment_value(self, value: str) -> object:
        """A ${CdnDomain} placeholder becomes the distribution's domain (cdn() runs first)."""
        if "${CdnDomain}" not in value:
            return value
        return Sub(value, CdnDomain=GetAtt(self.distribution, "DomainName"))

    def task_definition(self, spec: ServiceSpec) -> ecs.TaskDefinition:
        container = ecs.ContainerDefinition(
            Name=spec.name,
            Image=Ref(self.image),
            Essential=True,
            Command=list(spec.command),
            PortMappings=[ecs.PortMapping(ContainerPort=spec.port, Protocol="tcp")],
            Environment=[
                ecs.Environment(Name=k, Value=self.environment_value(v))
                for k, v in spec.environment
            ],
            Secrets=[
                ecs.Secret(Name=name, ValueFrom=self.secret_refs[secret])
                for name, secret in spec.secrets
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
                f"{spec.name.capitalize()}TaskDefinition",
                Family=f"{self.p.name}-{spec.name}",
                Cpu=str(spec.cpu),
                Memory=str(spec.memory),
                NetworkMode="awsvpc",
                RequiresCompatibilities=["FARGATE"],
                RuntimePlatform=ecs.RuntimePlatform(
                    CpuArchitecture="X86_64", OperatingSystemFamily="LINUX"
                ),
                ExecutionRoleArn=GetAtt(self.execution_role, "Arn"),
                TaskRoleArn=GetAtt(self.task_roles[spec.name], "Arn"),
                ContainerDefinitions=[container],
                **extra,
            )
        )

    # --- load balancer -------------------------------------------------------------------
    def load_balancer(self) -> None:
        p, t = self.p, self.t
        self.alb = t.add_resource(
            elb.LoadBalancer(
                "LoadBalancer",
                Type="application",
                Scheme="internet-facing",
                Subnets=self.public_subnets,
                SecurityGroups=[Ref(self.alb_group)],
                LoadBalancerAttributes=[
                    elb.LoadBalancerAttributes(Key="idle_timeout.timeout_seconds", Value="60")
                ],
                Tags=self.tag("alb"),
            )
        )
        self.target_groups: dict[str, elb.TargetGroup] = {}
        self.listeners: dict[str, list[elb.Listener]] = {}
        ports = {"engine": (8000, 443), "schedule": (8001, 8443)}
        for name, spec in self.specs.items():
            group = t.add_resource(
                elb.TargetGroup(
                    f"{name.capitalize()}TargetGroup",
                    Port=spec.port,
                    Protocol="HTTP",
                    TargetType="ip",
                    VpcId=self.vpc,
                    HealthCheckPath="/health",
                    HealthCheckProtocol="HTTP",
                    HealthCheckIntervalSeconds=cdn_policy.TARGET_HEALTH_INTERVAL_S,
                    HealthCheckTimeoutSeconds=cdn_policy.TARGET_HEALTH_TIMEOUT_S,
                    HealthyThresholdCount=2,
                    UnhealthyThresholdCount=cdn_policy.TARGET_UNHEALTHY_THRESHOLD,
                    Matcher=elb.Matcher(HttpCode="200"),
                    TargetGroupAttributes=[
                        elb.TargetGroupAttribute(
                            Key="deregistration_delay.timeout_seconds", Value="10"
                        )
                    ],
                )
            )
            self.target_groups[name] = group
            plain, secure = ports[name]
            forward = [elb.Action(Type="forward", TargetGroupArn=Ref(group))]
            listeners = [
                t.add_resource(
                    elb.Listener(
                        f"{name.capitalize()}Listener",
                        LoadBalancerArn=Ref(self.alb),
                        Port=plain,
                        Protocol="HTTP",
                        DefaultActions=forward,
                    )
                )
            ]
            if p.https:
                listeners.append(
                    t.add_resource(
                        elb.Listener(
                            f"{name.capitalize()}HttpsListener",
                            LoadBalancerArn=Ref(self.alb),
                            Port=secure,
                            Protocol="HTTPS",
                            SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
                            Certificates=[elb.Certificate(CertificateArn=p.certificate_arn)],
                            DefaultActions=forward,
                        )
                    )
                )
            self.listeners[name] = listeners

    # --- services ------------------------------------------------------------------------
    def services(self) -> None:
        p, t = self.p, self.t
        namespace = t.add_resource(
            discovery.PrivateDnsNamespace(
                "Namespace", Name=NAMESPACE, Vpc=self.vpc, Description="vchannel services"
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
            depends = [listener.title for listener in self.listeners[name]]
            if single_writer:
                depends += [m.title for m in self.mount_targets]
            service = ecs.Service(
                f"{name.capitalize()}Service",
                DependsOn=depends,
                Cluster=Ref(self.cluster),
                TaskDefinition=Ref(definition),
                LaunchType="FARGATE",
                DesiredCount=p.engine_desired_count if name == "engine" else 1,
                HealthCheckGracePeriodSeconds=30,
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
        t.add_resource(
            autoscaling.ScalingPolicy(
                "EngineRequestScaling",
                PolicyName=f"{p.name}-engine-requests",
                PolicyType="TargetTrackingScaling",
                ScalingTargetId=Ref(target),
                TargetTrackingScalingPolicyConfiguration=autoscaling.TargetTrackingScalingPolicyConfiguration(
                    TargetValue=float(p.engine_requests_per_target),
                    ScaleInCooldown=120,
                    ScaleOutCooldown=30,
                    PredefinedMetricSpecification=autoscaling.PredefinedMetricSpecification(
                        PredefinedMetricType="ALBRequestCountPerTarget",
                        ResourceLabel=Join(
                            "/",
                            [
                                GetAtt(self.alb, "LoadBalancerFullName"),
                                GetAtt(self.target_groups["engine"], "TargetGroupFullName"),
                            ],
                        ),
                    ),
                ),
            )
        )

    # --- CDN -----------------------------------------------------------------------------
    def cdn(self) -> None:
        p, t = self.p, self.t
        policy = t.add_resource(
            cloudfront.CachePolicy(
                "PlaylistCachePolicy",
                CachePolicyConfig=cloudfront.CachePolicyConfig(
                    Name=Sub(f"{p.name}-playlists-${{AWS::StackName}}"),
                    Comment="Honour the engine's Cache-Control; key on ?channel= only",
                    MinTTL=cdn_policy.MIN_TTL_S,
                    DefaultTTL=cdn_policy.DEFAULT_TTL_S,
                    MaxTTL=cdn_policy.MAX_TTL_S,
                    ParametersInCacheKeyAndForwardedToOrigin=cloudfront.ParametersInCacheKeyAndForwardedToOrigin(
                        EnableAcceptEncodingGzip=True,
                        EnableAcceptEncodingBrotli=True,
                        CookiesConfig=cloudfront.CacheCookiesConfig(CookieBehavior="none"),
                        HeadersConfig=cloudfront.CacheHeadersConfig(HeaderBehavior="none"),
                        QueryStringsConfig=cloudfront.CacheQueryStringsConfig(
                            QueryStringBehavior="whitelist",
                            QueryStrings=list(cdn_policy.CACHE_KEY_QUERY),
                        ),
                    ),
                ),
            )
        )
        if p.https:
            origin_config = cloudfront.CustomOriginConfig(
                OriginProtocolPolicy="https-only",
                HTTPSPort=443,
                OriginSSLProtocols=["TLSv1.2"],
                OriginReadTimeout=cdn_policy.ORIGIN_READ_TIMEOUT_S,
            )
            domain: object = p.origin_domain
        else:
            origin_config = cloudfront.CustomOriginConfig(
                OriginProtocolPolicy="http-only",
                HTTPPort=8000,
                OriginReadTimeout=cdn_policy.ORIGIN_READ_TIMEOUT_S,
            )
            domain = GetAtt(self.alb, "DNSName")
        self.distribution = t.add_resource(
            cloudfront.Distribution(
                "Cdn",
                DistributionConfig=cloudfront.DistributionConfig(
                    Comment=f"{p.name}: live playlists from the vchannel engine",
                    Enabled=True,
                    HttpVersion="http2and3",
                    IPV6Enabled=True,
                    PriceClass=p.price_class,
                    Origins=[
                        cloudfront.Origin(
                            Id="engine",
                            DomainName=domain,
                            CustomOriginConfig=origin_config,
                            ConnectionTimeout=cdn_policy.ORIGIN_CONNECT_TIMEOUT_S,
                            ConnectionAttempts=cdn_policy.ORIGIN_CONNECT_ATTEMPTS,
                        )
                    ],
                    DefaultCacheBehavior=cloudfront.DefaultCacheBehavior(
                        TargetOriginId="engine",
                        ViewerProtocolPolicy="redirect-to-https",
                        CachePolicyId=Ref(policy),
                        Compress=True,
                        AllowedMethods=["GET", "HEAD", "OPTIONS"],
                        CachedMethods=["GET", "HEAD"],
                    ),
                    CustomErrorResponses=[
                        cloudfront.CustomErrorResponse(
                            ErrorCode=code, ErrorCachingMinTTL=cdn_policy.ERROR_CACHING_TTL_S
                        )
                        for code in cdn_policy.CACHED_ERROR_CODES
                    ],
                ),
                Tags=self.tag("cdn"),
            )
        )

    def outputs(self) -> None:
        p, t = self.p, self.t
        domain = GetAtt(self.distribution, "DomainName")
        schedule_url = (
            f"https://{p.origin_domain}:8443"
            if p.https
            else Join("", ["http://", GetAtt(self.alb, "DNSName"), ":8001"])
        )
        t.add_output(
            [
                Output("CdnDomain", Description="CloudFront domain of the engine", Value=domain),
                Output(
                    "PlaybackUrlTemplate",
                    Description="Playback URL of a channel: replace {channel}",
                    Value=Join("", ["https://", domain, "/live/master.m3u8?channel={channel}"]),
                ),
                Output("ScheduleApiUrl", Description="Schedule REST API", Value=schedule_url),
                Output("ClusterName", Value=Ref(self.cluster)),
            ]
        )
        # Every ${Name} placeholder of task_definitions/*.json, for registering them by hand.
        placeholders: dict[str, object] = {
            "ExecutionRoleArn": GetAtt(self.execution_role, "Arn"),
            "EngineTaskRoleArn": GetAtt(self.task_roles["engine"], "Arn"),
            "ScheduleTaskRoleArn": GetAtt(self.task_roles["schedule"], "Arn"),
            "EngineLogGroup": Ref(self.log_groups["engine"]),
            "ScheduleLogGroup": Ref(self.log_groups["schedule"]),
        }
        for name, ref in self.secret_refs.items():
            placeholders[secret_logical_id(name) + "Arn"] = ref
        if p.database == "sqlite-efs":
            placeholders["FileSystemId"] = Ref(self.file_system)
            placeholders["AccessPointId"] = Ref(self.access_point)
        t.add_output([Output(name, Value=value) for name, value in placeholders.items()])


def build_template(params: StackParams | None = None) -> Template:
    """The CloudFormation template for these parameters (pure: no AWS calls)."""
    stack = _Stack(params or StackParams())
    stack.network()
    stack.security_groups()
    stack.endpoints()
    stack.secrets()
    stack.database()
    stack.cluster_and_roles()
    stack.load_balancer()
    stack.cdn()
    stack.services()
    stack.autoscaling()
    stack.outputs()
    return stack.t
