"""The stack under construction: its parameters, its template, and what every part of it shares
(tags, checkov suppressions). Each module adds one area as a class in a chain (network, data,
edge, tasks), each building on the resources of the ones before; template.py puts them
together in order."""

from __future__ import annotations

from troposphere import Tags, Template

from cloudformation.params import StackParams
from cloudformation.services import service_specs

ORIGIN_HEADER = "X-Origin-Verify"
"""The header CloudFront adds to every origin request, with a generated secret as its value;
the load balancer's listeners forward only requests that carry it (anyone else gets 403)."""
TAGGABLE = ("Tags", "FileSystemTags", "AccessPointTags")
"""The property names under which CloudFormation resources take tags."""


def checkov_skip(*checks: tuple[str, str]) -> dict[str, object]:
    """Resource metadata that suppresses checkov checks, each with its reason."""
    return {"checkov": {"skip": [{"id": check, "comment": why} for check, why in checks]}}


KMS_DEFAULT = "encrypted with the AWS managed key; a customer key adds cost and key policy work"


class StackBase:
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
