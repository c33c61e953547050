"""What the steps of ``project_template.build`` share: one ``ProjectContext``.

The source providers (``generator/sources``) receive it too, so it lives apart from the template
module that imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from troposphere import GetAtt, Ref, Sub, Tags, Template, codebuild, codepipeline, s3
from troposphere.codecommit import Repository
from troposphere.iam import Role
from troposphere.sagemaker import ModelPackageGroup

from generator import naming, tagging
from generator.config import Config
from generator.sources.base import Source


@dataclass
class ProjectContext:
    """What the steps share: the template being built and what earlier steps added to it.

    The fields after ``key_arn`` are set by the step named beside them; reading one before its
    step ran raises AttributeError instead of building a template without it.
    """

    config: Config
    template: Template
    names: dict[str, naming.DerivedName]
    key_arn: str
    params: dict[str, Ref] = field(init=False)  # add_parameters
    tag_values: dict[str, Ref] = field(init=False)  # add_parameters
    source: Source = field(init=False)  # add_parameters
    roles: dict[str, Role] = field(init=False)  # project_roles.add_roles
    bucket: s3.Bucket = field(init=False)  # add_storage
    group: ModelPackageGroup = field(init=False)  # add_registry
    repositories: dict[str, Repository] = field(init=False)  # add_repositories
    projects: dict[str, codebuild.Project] = field(init=False)  # add_builds
    pipelines: dict[str, codepipeline.Pipeline] = field(init=False)  # add_pipelines

    def tags(self) -> Tags:
        """The tags every resource of the project carries."""
        return tagging.project_tags(self.config, self.tag_values)

    def role(self, purpose: str) -> GetAtt:
        """The ARN of the project's own role for that purpose."""
        return GetAtt(self.roles[purpose], "Arn")

    def arn(self, service: str, resource: naming.DerivedName) -> Sub:
        """The ARN of the resource with that name, from the same pattern as its name (not GetAtt)."""
        return Sub(f"arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource.pattern}")
