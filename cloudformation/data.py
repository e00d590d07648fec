"""The stack's data: its secrets, and the schedule store (SQLite on EFS or RDS PostgreSQL)."""

from __future__ import annotations

from troposphere import Ref, Sub, efs, rds, secretsmanager

from cloudformation.base import KMS_DEFAULT, ORIGIN_HEADER, checkov_skip
from cloudformation.network import NetworkStack
from cloudformation.services import API_KEY_SECRET, DATABASE_CREDENTIALS


class DataStack(NetworkStack):
    """Secrets and the schedule store."""

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
