"""Where the roles may act: ARN patterns of one team's resources, account pins, image repositories.

Project resources are named ``<project name>-<project id>[-...]`` and project names end in
``-<suffix>``, so ``*-<suffix>-p-*`` (``naming.project_resource_glob``) covers this team's
projects and nobody else's. Every pattern is a ``Fn::Sub`` string: ``statements.to_cfn`` wraps
it in the roles' policies, ``keys`` in the key policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from awacs.aws import Condition, StringEquals

from generator import naming
from generator.config import SAGEMAKER_IMAGE_ACCOUNTS_FILE, Config
from generator.errors import UserError

PARTITION = "${AWS::Partition}"
REGION = "${AWS::Region}"
ACCOUNT = "${AWS::AccountId}"


def arn(service: str, resource: str) -> str:
    """An ARN of this account and region."""
    return f"arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource}"


@dataclass(frozen=True)
class Scope:
    """ARN patterns (Fn::Sub strings) of one team's project resources, or of one project's.

    The team's scope (``one_project=False``) is for what serves every project of the team: the
    project roles' permissions boundary, the Studio user policy, the key policy. One project's
    scope names its resources exactly, with the project template's own parameters: the roles each
    project stack creates for itself reach nothing of another project, whatever its name.
    """

    config: Config
    one_project: bool = False

    @property
    def glob(self) -> str:
        # One project's resources are `<name>-<id>[-...]`; another project's can only match if its
        # own name begins with this one's whole `<name>-<id>` (README, Known limits).
        return naming.PROJECT_PREFIX + "*" if self.one_project else naming.project_resource_glob(self.config)

    @property
    def project_name(self) -> str:
        """What the `sagemaker:project-name` tag of the scope's jobs holds (a StringLike value)."""
        return "${SageMakerProjectName}" if self.one_project else f"*-{self.config.project_suffix}"

    def sagemaker(self, kind: str, name: str | None = None) -> str:
        return arn("sagemaker", f"{kind}/{name or self.glob}")

    def model_packages(self) -> str:
        """The versions in the project's model package groups."""
        return self.sagemaker("model-package", self.glob + "/*")

    def pipelines(self) -> list[str]:
        """The project's SageMaker pipelines and their executions."""
        return [self.sagemaker("pipeline"), self.sagemaker("pipeline", self.glob + "/*")]

    def bucket(self) -> str:
        if self.one_project:
            return f"arn:{PARTITION}:s3:::{naming.artifact_bucket(self.config).pattern}"
        return naming.artifact_bucket_arn_pattern(self.config)

    def objects(self) -> str:
        return self.bucket() + "/*"

    def codecommit(self) -> str:
        return arn("codecommit", self.glob)

    def connections(self) -> list[str]:
        # The connection is chosen in the Studio form, so any of this account and region; ones
        # made before the service's 2024 rename keep codestar-connections ARNs.
        return [arn(service, "connection/*") for service in ("codeconnections", "codestar-connections")]

    def codebuild(self) -> str:
        return arn("codebuild", f"project/{self.glob}")

    def codepipeline(self) -> str:
        return arn("codepipeline", self.glob)

    def stack(self) -> str:
        return arn("cloudformation", f"stack/{self.glob}/*")

    def topic(self) -> str:
        return arn("sns", self.glob)

    def alarm(self) -> str:
        return arn("cloudwatch", f"alarm:{self.glob}")

    def scalable_targets(self) -> str:
        # Scalable targets get random ids: no name scopes them (the deploy role uses conditions).
        return arn("application-autoscaling", "scalable-target/*")

    def build_log_group(self) -> str:
        """The log group each project build writes to (the project template creates it)."""
        return arn("logs", f"log-group:/aws/codebuild/{self.glob}")

    def log_groups(self, service: str) -> list[str]:
        # SageMaker jobs share account-wide groups; endpoints get a group per endpoint name.
        names = [self.glob] if service == "codebuild" else ["ProcessingJobs", "TrainingJobs", f"Endpoints/{self.glob}"]
        base = arn("logs", f"log-group:/aws/{service}")
        return [f"{base}/{name}{streams}" for name in names for streams in ("", ":log-stream:*")]

    def event_rule(self) -> str:
        return arn("events", f"rule/{self.glob}")

    def role(self, purpose: str) -> str:
        """The role for ``purpose`` (the launch role, or project roles); ``*``: every project role."""
        if purpose == "*" or (purpose in naming.PROJECT_ROLE_PURPOSES and not self.one_project):
            return naming.team_role_arn_pattern(self.config, purpose)
        return naming.role_arn_pattern(self.config, purpose)

    def parameters(self) -> str:
        prefix = naming.key_arn_parameter(self.config).pattern.rsplit("/", 1)[0]
        return arn("ssm", f"parameter{prefix}/*")

    def project(self) -> str:
        return arn("sagemaker", f"project/{self.project_name}")


def in_this_account() -> Condition:
    """Bucket names are global: `<namespace>-p-...-<account>` can be created by anyone, in any
    account. The bucket's owner must be this account (a key S3 sends with every request)."""
    return Condition(StringEquals("s3:ResourceAccount", ACCOUNT))


# AWS's accounts that publish SageMaker's built-in images, per region (the SDK's table).
IMAGE_ACCOUNTS_FILE = SAGEMAKER_IMAGE_ACCOUNTS_FILE


def image_repositories(config: Config) -> list[str]:
    """ECR repositories the execution role may pull from: this account's and AWS's image accounts
    of the configured regions, never `*` (an outsider's `sagemaker-*` repository)."""
    accounts = json.loads(IMAGE_ACCOUNTS_FILE.read_text(encoding="utf-8"))["accounts"]
    unknown = [region for region in config.regions if region not in accounts]
    if unknown:
        raise UserError(
            f"regions {', '.join(unknown)}: no SageMaker image account known in {IMAGE_ACCOUNTS_FILE.name}; "
            f"use regions from: {', '.join(sorted(accounts))}"
        )
    owners = [ACCOUNT, *sorted({accounts[region] for region in config.regions})]
    return [f"arn:{PARTITION}:ecr:{REGION}:{owner}:repository/sagemaker-*" for owner in owners]
