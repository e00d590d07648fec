"""build_template(params) -> troposphere.Template: the whole AWS stack, with no AWS calls.

Shape: ECS Fargate services for the engine (8000) and the schedule service (8001) behind one
internet-facing ALB with one listener each; a CloudFront distribution in front of each
listener (the engine's with a cache policy that honours its Cache-Control and keys on the
`channel` query string only, the API's with caching disabled, so that the API key always
travels over TLS); listeners that answer 403 unless a request carries the origin header only
CloudFront sends; Cloud Map so the engine reaches the schedule service inside the VPC;
CPU target-tracking autoscaling of the engine; SQLite on EFS or RDS PostgreSQL for the
schedule store.
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
    API_KEY_SECRET,
    DATA_PATH,
    DATABASE_CREDENTIALS,
    NAMESPACE,
    ServiceSpec,
    service_specs,
)
from common import cdn as cdn_policy

VPC_CIDR = "10.40.0.0/16"
PUBLIC_CIDRS = ("10.40.0.0/20", "10.40.16.0/20")
PRIVATE_CIDRS = ("10.40.128.0/20", "10.40.144.0/20")

ORIGIN_HEADER = "X-Origin-Verify"
"""The header CloudFront adds to every origin request, with a generated secret as its value;
the load balancer's listeners forward only requests that carry it (anyone else gets 403)."""
CLOSED_PATHS = ("/metrics", "/health")
"""Answered 404 at the listeners: operations only (the load balancer's own health checks go
to the tasks directly, not through a listener)."""
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
"""CloudFront's managed cache policy CachingDisabled."""
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
"""CloudFront's managed origin request policy AllViewerExceptHostHeader."""
API_ORIGIN_READ_TIMEOUT_S = 60
"""CloudFront's ceiling without a quota increase; an ingest answers within
INGEST_TIMEOUT_SECONDS (10 s by default), bulk ingests are jobs."""
ENGINE_HEALTH_GRACE_S = 300
"""How long a new engine task may stay out of the load balancer before ECS replaces it: an
engine is not ready until its first plan sync, and with SQLite on EFS the schedule service is
away while its own task is replaced (stop, provision, pull, migrate: one to three minutes)."""
TAGGABLE = ("Tags", "FileSystemTags", "AccessPointTags")
"""The property names under which CloudFormation resources take tags."""


def checkov_skip(*checks: tuple[str, str]) -> dict[str, object]:
    """Resource metadata that suppresses checkov checks, each with its reason."""
    return {"checkov": {"skip": [{"id": check, "comment": why} for check, why in checks]}}


KMS_DEFAULT = "encrypted with the AWS managed key; a customer key adds cost and key policy work"


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

    def tag_everything(self) -> None:
        """Every resource that takes tags gets the stack's (those not tagged by name yet)."""
        for resource in self.t.resources.values():
            for key in TAGGABLE:
                if key in resource.props and key not in resource.properties:
                    resource.properties[key] = self.tag(resource.title.lower())

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
                ec2.EIP(
                    "NatAddress", Domain="vpc", DependsOn=attachment.title, Tags=self.tag("nat")
                )
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
                        Description=f"from {source.title}",
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
        if self.p.egress != "endpoints" or not self.p.vpc_endpoints:
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
        self.s3_endpoint = t.add_resource(
            ec2.VPCEndpoint(
                "S3Endpoint",
                VpcId=self.vpc,
                ServiceName=Sub("com.amazonaws.${AWS::Region}.s3"),
                VpcEndpointType="Gateway",
                RouteTableIds=self.private_route_tables,
            )
        )

    # --- security groups -----------------------------------------------------------------
    @property
    def listener_ports(self) -> dict[str, int]:
        """The load balancer's port for each service: HTTPS 443 and 8443 with a certificate,
        HTTP 8000 and 8001 without (CloudFront still talks TLS to viewers)."""
        if self.p.https:
            return {"engine": 443, "schedule": 8443}
        return {"engine": 8000, "schedule": 8001}

    def security_groups(self) -> None:
        t = self.t
        # CloudFront's addresses are the internet's: the ports are open, and the listeners
        # turn away every request without the origin header (see load_balancer)
        ingress = [
            ec2.SecurityGroupRule(
                IpProtocol="tcp",
                FromPort=port,
                ToPort=port,
                CidrIp="0.0.0.0/0",
                Description=f"CloudFront to the {name} listener (origin header required)",
            )
            for name, port in self.listener_ports.items()
        ]
        self.alb_group = t.add_resource(
            ec2.SecurityGroup(
                "LoadBalancerSecurityGroup",
                GroupDescription="CloudFront to the listeners, which require the origin header",
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
    def secret(self, title: str, description: str, keep: bool, **generate: object) -> Ref:
        """A generated secret; `keep`: it outlives the stack and any replacement (a database
        restored from a snapshot still needs its password)."""
        policy = "Retain" if keep else "Delete"
        secret = self.t.add_resource(
            secretsmanager.Secret(
                title,
                DeletionPolicy=policy,
                UpdateReplacePolicy=policy,
                Description=description,
                GenerateSecretString=secretsmanager.GenerateSecretString(
                    ExcludePunctuation=True, **generate
                ),
                Metadata=checkov_skip(("CKV_AWS_149", KMS_DEFAULT)),
            )
        )
        self.secret_refs[title] = Ref(secret)
        return Ref(secret)

    def secrets(self) -> None:
        self.secret_refs: dict[str, Ref] = {}
        self.secret(
            API_KEY_SECRET,
            "vchannel schedule API key (Authorization: Bearer <key> for writes)",
            keep=False,
            PasswordLength=40,
        )
        origin = self.secret(
            "OriginVerifySecret",
            f"vchannel: the {ORIGIN_HEADER} value CloudFront sends and the listeners require",
            keep=False,
            PasswordLength=48,
        )
        self.origin_verify = Sub("{{resolve:secretsmanager:${Secret}}}", Secret=origin)

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
            self.secret(
                DATABASE_CREDENTIALS,
                "vchannel PostgreSQL master credentials (the schedule service reads the password)",
                keep=True,
                SecretStringTemplate='{"username": "vchannel"}',
                GenerateStringKey="password",
                PasswordLength=32,
            )
            subnets = t.add_resource(
                rds.DBSubnetGroup(
                    "DatabaseSubnets",
                    DBSubnetGroupDescription="vchannel database subnets (private)",
                    SubnetIds=self.private_subnets,
                )
            )
            resolve = "{{resolve:secretsmanager:${DatabaseCredentials}:SecretString:%s}}"
            extra: dict[str, object] = {}
            if p.rds_performance_insights:
                extra["PerformanceInsightsRetentionPeriod"] = 7
            self.database_instance = t.add_resource(
                rds.DBInstance(
                    "Database",
                    DeletionPolicy="Snapshot",
                    UpdateReplacePolicy="Snapshot",
                    DeletionProtection=p.rds_deletion_protection,
                    Engine="postgres",
                    EngineVersion=p.rds_engine_version,
                    AutoMinorVersionUpgrade=True,
                    DBInstanceClass=p.rds_instance_class,
                    AllocatedStorage="20",
                    MaxAllocatedStorage=p.rds_max_storage_gb,
                    EnableCloudwatchLogsExports=["postgresql", "upgrade"],
                    EnablePerformanceInsights=p.rds_performance_insights,
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
                    Metadata=checkov_skip(
                        ("CKV_AWS_157", "Multi-AZ is the rds_multi_az parameter (it doubles cost)"),
                        (
                            "CKV_AWS_118",
                            "enhanced monitoring needs a monitoring role and costs per instance; "
                            "the exported logs and CloudWatch metrics cover this service",
                        ),
                        (
                            "CKV_AWS_161",
                            "the schedule service authenticates with the generated password in "
                            "Secrets Manager",
                        ),
                    ),
                    **extra,
                )
            )
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
                FileSystemPolicy=self.file_system_policy(),
            )
        )
        # in the private subnets whatever the egress: a mount target cannot move without being
        # replaced, and a zone takes only one, so following the task subnets breaks an update
        self.mount_targets = [
            t.add_resource(
                efs.MountTarget(
                    f"MountTarget{'AB'[index]}",
                    FileSystemId=Ref(self.file_system),
                    SubnetId=subnet,
                    SecurityGroups=[Ref(group)],
                )
            )
            for index, subnet in enumerate(self.private_subnets)
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

    @staticmethod
    def file_system_policy() -> dict[str, object]:
        """Only TLS, only through an access point, only principals of this account that IAM
        allows (the schedule task role, whose policy names the access point)."""
        everyone = {"AWS": "*"}
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "TlsOnly",
                    "Effect": "Deny",
                    "Principal": everyone,
                    "Action": "*",
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "AccessPointOnly",
                    "Effect": "Deny",
                    "Principal": everyone,
                    "Action": [
                        "elasticfilesystem:ClientMount",
                        "elasticfilesystem:ClientWrite",
                        "elasticfilesystem:ClientRootAccess",
                    ],
                    "Condition": {"Null": {"elasticfilesystem:AccessPointArn": "true"}},
                },
                {
                    "Sid": "ThisAccountThroughMountTargets",
                    "Effect": "Allow",
                    "Principal": {"AWS": Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
                    "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                    "Condition": {"Bool": {"elasticfilesystem:AccessedViaMountTarget": "true"}},
                },
            ],
        }

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

    # --- load balancer -------------------------------------------------------------------
    def load_balancer(self) -> None:
        p, t = self.p, self.t
        attributes = [
            elb.LoadBalancerAttributes(Key="idle_timeout.timeout_seconds", Value="60"),
            elb.LoadBalancerAttributes(
                Key="routing.http.drop_invalid_header_fields.enabled", Value="true"
            ),
        ]
        skips = [("CKV_AWS_91", "access logs are the access_logs_bucket parameter")]
        if p.access_logs_bucket:
            attributes += [
                elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=p.access_logs_bucket),
                elb.LoadBalancerAttributes(
                    Key="access_logs.s3.prefix", Value=Sub("${AWS::StackName}/alb")
                ),
            ]
            skips = []
        self.alb = t.add_resource(
            elb.LoadBalancer(
                "LoadBalancer",
                Type="application",
                Scheme="internet-facing",
                Subnets=self.public_subnets,
                SecurityGroups=[Ref(self.alb_group)],
                LoadBalancerAttributes=attributes,
                Tags=self.tag("alb"),
                **({"Metadata": checkov_skip(*skips)} if skips else {}),
            )
        )
        self.target_groups: dict[str, elb.TargetGroup] = {}
        self.listeners: dict[str, elb.Listener] = {}
        for name, spec in self.specs.items():
            group = t.add_resource(
                elb.TargetGroup(
                    f"{spec.title}TargetGroup",
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
            self.listeners[name] = self.listener(name, spec, group)

    def listener(self, name: str, spec: ServiceSpec, group: elb.TargetGroup) -> elb.Listener:
        """The service's listener: 403 by default, 404 on the operations paths, forward for
        CloudFront (origin header) and, for the API, the schedule_api_cidrs networks."""
        p, t = self.p, self.t
        port = self.listener_ports[name]
        secure: dict[str, object] = {}
        skips: list[tuple[str, str]] = []
        if p.https:
            secure = {
                "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                "Certificates": [elb.Certificate(CertificateArn=p.certificate_arn)],
            }
        else:
            reason = (
                "CloudFront reaches this port only with the origin header and serves viewers "
                "over TLS; give certificate_arn for TLS to the load balancer too"
            )
            skips = [("CKV_AWS_2", reason), ("CKV_AWS_103", reason)]
        listener = t.add_resource(
            elb.Listener(
                f"{spec.title}Listener",
                LoadBalancerArn=Ref(self.alb),
                Port=port,
                Protocol="HTTPS" if p.https else "HTTP",
                DefaultActions=[
                    elb.Action(
                        Type="fixed-response",
                        FixedResponseConfig=elb.FixedResponseConfig(
                            StatusCode="403",
                            ContentType="text/plain",
                            MessageBody="reach this service through its CloudFront distribution",
                        ),
                    )
                ],
                **({"Metadata": checkov_skip(*skips)} if skips else {}),
                **secure,
            )
        )
        rules: list[tuple[elb.Condition, elb.ListenerRuleAction]] = [
            (
                elb.Condition(
                    Field="path-pattern",
                    PathPatternConfig=elb.PathPatternConfig(Values=list(CLOSED_PATHS)),
                ),
                elb.ListenerRuleAction(
                    Type="fixed-response",
                    FixedResponseConfig=elb.FixedResponseConfig(
                        StatusCode="404", ContentType="text/plain", MessageBody="not found"
                    ),
                ),
            ),
            (
                elb.Condition(
                    Field="http-header",
                    HttpHeaderConfig=elb.HttpHeaderConfig(
                        HttpHeaderName=ORIGIN_HEADER, Values=[self.origin_verify]
                    ),
                ),
                elb.ListenerRuleAction(Type="forward", TargetGroupArn=Ref(group)),
            ),
        ]
        if name == "schedule" and p.schedule_api_cidrs:
            rules.append(
                (
                    elb.Condition(
                        Field="source-ip",
                        SourceIpConfig=elb.SourceIpConfig(Values=list(p.schedule_api_cidrs)),
                    ),
                    elb.ListenerRuleAction(Type="forward", TargetGroupArn=Ref(group)),
                )
            )
        for priority, (condition, action) in enumerate(rules, start=1):
            t.add_resource(
                elb.ListenerRule(
                    f"{spec.title}ListenerRule{priority}",
                    ListenerArn=Ref(listener),
                    Priority=priority,
                    Conditions=[condition],
                    Actions=[action],
                )
            )
        return listener

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

    # --- CDN -----------------------------------------------------------------------------
    def origin(self, name: str, read_timeout_s: int) -> cloudfront.Origin:
        """CloudFront's origin for a service's listener, with the origin header."""
        p = self.p
        port = self.listener_ports[name]
        if p.https:
            config = cloudfront.CustomOriginConfig(
                OriginProtocolPolicy="https-only",
                HTTPSPort=port,
                OriginSSLProtocols=["TLSv1.2"],
                OriginReadTimeout=read_timeout_s,
            )
            domain: object = p.origin_domain
        else:
            config = cloudfront.CustomOriginConfig(
                OriginProtocolPolicy="http-only", HTTPPort=port, OriginReadTimeout=read_timeout_s
            )
            domain = GetAtt(self.alb, "DNSName")
        extra: dict[str, object] = {}
        if name == "engine" and p.origin_shield_region:
            extra["OriginShield"] = cloudfront.OriginShield(
                Enabled=True, OriginShieldRegion=p.origin_shield_region
            )
        return cloudfront.Origin(
            Id=name,
            DomainName=domain,
            CustomOriginConfig=config,
            ConnectionTimeout=cdn_policy.ORIGIN_CONNECT_TIMEOUT_S,
            ConnectionAttempts=cdn_policy.ORIGIN_CONNECT_ATTEMPTS,
            OriginCustomHeaders=[
                cloudfront.OriginCustomHeader(
                    HeaderName=ORIGIN_HEADER, HeaderValue=self.origin_verify
                )
            ],
            **extra,
        )

    def distribution_common(self, prefix: str) -> tuple[dict[str, object], dict[str, object]]:
        """What both distributions share: HTTP/2 and 3, IPv6, the price class, access logging
        (when a bucket is given), and the checkov checks that do not apply to them:
        (DistributionConfig fields, resource metadata)."""
        skips = [
            (
                "CKV_AWS_68",
                "no WAF: it is charged per request, and the origins answer only CloudFront",
            ),
            (
                "CKV_AWS_174",
                "the default *.cloudfront.net certificate; CloudFront negotiates TLS 1.2+ "
                "with current viewers",
            ),
        ]
        fields: dict[str, object] = {
            "Enabled": True,
            "HttpVersion": "http2and3",
            "IPV6Enabled": True,
            "PriceClass": self.p.price_class,
        }
        if self.p.access_logs_bucket:
            fields["Logging"] = cloudfront.Logging(
                Bucket=f"{self.p.access_logs_bucket}.s3.amazonaws.com",
                Prefix=Sub("${AWS::StackName}/" + prefix + "/"),
                IncludeCookies=False,
            )
        else:
            skips.append(("CKV_AWS_86", "access logs are the access_logs_bucket parameter"))
        return fields, checkov_skip(*skips)

    def cdn(self) -> None:
        p, t = self.p, self.t
        policy = t.add_resource(
            cloudfront.CachePolicy(
                "PlaylistCachePolicy",
                CachePolicyConfig=cloudfront.CachePolicyConfig(
                    # unique per account (cache policies are global): stack and region
                    Name=Sub("${AWS::StackName}-playlists-${AWS::Region}"),
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
        fields, metadata = self.distribution_common("cdn")
        self.distribution = t.add_resource(
            cloudfront.Distribution(
                "Cdn",
                DistributionConfig=cloudfront.DistributionConfig(
                    Comment=f"{p.name}: live playlists from the vchannel engine",
                    Origins=[self.origin("engine", cdn_policy.ORIGIN_READ_TIMEOUT_S)],
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
                    **fields,
                ),
                Tags=self.tag("cdn"),
                Metadata=metadata,
            )
        )

    def api_cdn(self) -> None:
        """The schedule API over HTTPS without a domain of the user's: a distribution that
        caches nothing and forwards every method, header (Authorization too) and query."""
        p, t = self.p, self.t
        fields, metadata = self.distribution_common("api")
        self.api_distribution = t.add_resource(
            cloudfront.Distribution(
                "ApiCdn",
                DistributionConfig=cloudfront.DistributionConfig(
                    Comment=f"{p.name}: the vchannel schedule API over HTTPS (no caching)",
                    Origins=[self.origin("schedule", API_ORIGIN_READ_TIMEOUT_S)],
                    DefaultCacheBehavior=cloudfront.DefaultCacheBehavior(
                        TargetOriginId="schedule",
                        # never redirect: a request sent over HTTP has already shown its key
                        ViewerProtocolPolicy="https-only",
                        CachePolicyId=CACHING_DISABLED,
                        OriginRequestPolicyId=ALL_VIEWER_EXCEPT_HOST,
                        Compress=True,
                        AllowedMethods=["GET", "HEAD", "OPTIONS", "PUT", "PATCH", "POST", "DELETE"],
                        CachedMethods=["GET", "HEAD"],
                    ),
                    **fields,
                ),
                Tags=self.tag("api"),
                Metadata=metadata,
            )
        )

    def outputs(self) -> None:
        p, t = self.p, self.t
        domain = GetAtt(self.distribution, "DomainName")
        api_domain = GetAtt(self.api_distribution, "DomainName")
        t.add_output(
            [
                Output("CdnDomain", Description="CloudFront domain of the engine", Value=domain),
                Output(
                    "PlaybackUrlTemplate",
                    Description="Playback URL of a channel: replace {channel}",
                    Value=Join("", ["https://", domain, "/live/master.m3u8?channel={channel}"]),
                ),
                Output(
                    "ScheduleApiUrl",
                    Description="Schedule REST API (HTTPS through its own distribution)",
                    Value=Join("", ["https://", api_domain]),
                ),
                Output(
                    "LoadBalancerDnsName",
                    Description="The load balancer (origin_domain must point at it for HTTPS)",
                    Value=GetAtt(self.alb, "DNSName"),
                ),
                Output("ClusterName", Value=Ref(self.cluster)),
            ]
        )
        # Every ${Name} placeholder of task_definitions/*.json, for registering them by hand.
        placeholders: dict[str, object] = {}
        for name, spec in self.specs.items():
            placeholders[f"{spec.title}ImageUri"] = Ref(self.images[name])
            placeholders[f"{spec.title}ExecutionRoleArn"] = GetAtt(
                self.execution_roles[name], "Arn"
            )
            placeholders[f"{spec.title}TaskRoleArn"] = GetAtt(self.task_roles[name], "Arn")
            placeholders[f"{spec.title}LogGroup"] = Ref(self.log_groups[name])
        for title, ref in self.secret_refs.items():
            placeholders[title + "Arn"] = ref
        if p.database == "sqlite-efs":
            placeholders["FileSystemId"] = Ref(self.file_system)
            placeholders["AccessPointId"] = Ref(self.access_point)
        else:
            placeholders["DatabaseAddress"] = GetAtt(self.database_instance, "Endpoint.Address")
            placeholders["DatabasePort"] = GetAtt(self.database_instance, "Endpoint.Port")
        if p.egress == "endpoints" and p.vpc_endpoints:
            placeholders["S3EndpointId"] = Ref(self.s3_endpoint)
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
    stack.api_cdn()
    stack.services()
    stack.autoscaling()
    stack.outputs()
    stack.tag_everything()
    return stack.t
