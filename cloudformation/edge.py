"""The stack's edge: the load balancer with a listener per service (closed to anyone but
CloudFront), and a CloudFront distribution in front of each."""

from __future__ import annotations

from troposphere import GetAtt, Ref, Sub, cloudfront
from troposphere import elasticloadbalancingv2 as elb

from cloudformation.base import ORIGIN_HEADER, checkov_skip
from cloudformation.data import DataStack
from cloudformation.services import ServiceSpec
from common import cdn as cdn_policy

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


class EdgeStack(DataStack):
    """The load balancer, its listeners and the CloudFront distributions."""

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
