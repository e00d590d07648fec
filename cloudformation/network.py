"""The stack's network: the VPC (or the one given), subnets, NAT or VPC endpoints, and the
security groups of the load balancer and the two services."""

from __future__ import annotations

from troposphere import GetAtt, GetAZs, Ref, Select, Sub, ec2

from cloudformation.base import StackBase

VPC_CIDR = "10.40.0.0/16"
PUBLIC_CIDRS = ("10.40.0.0/20", "10.40.16.0/20")
PRIVATE_CIDRS = ("10.40.128.0/20", "10.40.144.0/20")


class NetworkStack(StackBase):
    """The VPC, subnets, routes, endpoints and security groups."""

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
