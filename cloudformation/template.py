"""build_template(params) -> troposphere.Template: the whole AWS stack, with no AWS calls.

Shape: ECS Fargate services for the engine (8000) and the schedule service (8001) behind one
internet-facing ALB with one listener each; a CloudFront distribution in front of each
listener (the engine's with a cache policy that honours its Cache-Control and keys on the
`channel` query string only, the API's with caching disabled, so that the API key always
travels over TLS); listeners that answer 403 unless a request carries the origin header only
CloudFront sends; Cloud Map so the engine reaches the schedule service inside the VPC;
CPU target-tracking autoscaling of the engine; SQLite on EFS or RDS PostgreSQL for the
schedule store. Each area is built in its own module (network, data, edge, tasks).
"""

from __future__ import annotations

from troposphere import GetAtt, Join, Output, Ref, Template

from cloudformation.params import StackParams
from cloudformation.tasks import TaskStack


class _Stack(TaskStack):
    """The whole stack, and its outputs."""

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
