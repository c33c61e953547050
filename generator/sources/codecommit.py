"""CodeCommit (the default): the project stack creates and seeds its two repositories.

The repositories start from the seed code the product stack published; EventBridge rules on
their branch start the pipelines. The launch role provisions the repositories, the CodePipeline
role reads them, and the Studio user policy counts CodeCommit among the team-tagged services.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from awacs import codecommit
from awacs.aws import Statement
from troposphere import Sub, Template
from troposphere.codecommit import S3, Code, Repository

from generator import naming
from generator.config import Config
from generator.iam.statements import allow
from generator.sources.base import SEED_CODE, SOURCE_BRANCH, Source, StartRule, seed_code_title

if TYPE_CHECKING:
    from generator.iam.scopes import Scope
    from generator.project_context import ProjectContext

REPOSITORY_TYPE = "AWS::CodeCommit::Repository"
REPOSITORY_TITLES = {"build": "ModelBuildRepository", "deploy": "ModelDeployRepository"}
PUSH_RULE_TITLES = {"build": "ModelBuildPushRule", "deploy": "ModelDeployPushRule"}


@dataclass(frozen=True)
class CodeCommit(Source):
    seed_bucket: str
    seed_prefix: str

    description = "seeded CodeCommit repositories"
    action_provider = "CodeCommit"
    team_tagged_services = ("codecommit",)

    @classmethod
    def names(cls, config: Config) -> dict[str, naming.DerivedName]:
        return {
            "build_repository": naming.project_resource("model-build", "codecommit-repository"),
            "deploy_repository": naming.project_resource("model-deploy", "codecommit-repository"),
            "build_push_rule": naming.project_resource("build-push", "events-rule"),
            "deploy_push_rule": naming.project_resource("deploy-push", "events-rule"),
        }

    @classmethod
    def launch_resources(cls, scope: Scope) -> dict[str, list[str]]:
        return {REPOSITORY_TYPE: [scope.codecommit()]}

    @classmethod
    def pipeline_source_statement(cls, scope: Scope) -> Statement:
        return allow(
            "AllowReadingProjectRepositories",
            [
                codecommit.GetBranch,
                codecommit.GetCommit,
                codecommit.GetRepository,
                codecommit.UploadArchive,
                codecommit.GetUploadArchiveStatus,
                codecommit.CancelUploadArchive,
            ],
            [scope.codecommit()],
        )

    @classmethod
    def declare(cls, template: Template, config: Config) -> CodeCommit:
        # What the product stack published, read through SSM when the stack is created. Not a
        # Studio parameter: the launch role reads the product's own published prefix and nothing
        # else, so another bucket or prefix typed into the form could only fail late, at the
        # repository.
        return cls(
            seed_bucket=naming.seed_code_bucket_parameter(config).ssm_reference(),
            seed_prefix=naming.seed_code_prefix_parameter(config).ssm_reference(),
        )

    def add_repositories(self, ctx: ProjectContext) -> dict[str, Repository]:
        names = self.names(ctx.config)
        return {
            kind: ctx.template.add_resource(
                Repository(
                    title,
                    RepositoryName=names[f"{kind}_repository"].sub(),
                    RepositoryDescription=Sub(
                        f"{seed_code_title(kind).capitalize()} code of SageMaker project ${{SageMakerProjectName}}"
                    ),
                    # The product's own published zips, in this region's bucket: nothing is read
                    # from AWS-owned buckets, so it works in every supported region.
                    Code=Code(
                        BranchName=SOURCE_BRANCH,
                        S3=S3(
                            Bucket=self.seed_bucket,
                            Key=Sub(
                                f"${{Prefix}}/{naming.SEED_CODE_KEYS[SEED_CODE[kind]]}",
                                Prefix=self.seed_prefix,
                            ),
                        ),
                    ),
                    Tags=ctx.tags(),
                )
            )
            for kind, title in REPOSITORY_TITLES.items()
        }

    def action_configuration(self, ctx: ProjectContext, kind: str) -> dict:
        return {
            "RepositoryName": self.names(ctx.config)[f"{kind}_repository"].sub(),
            "BranchName": SOURCE_BRANCH,
            # The push rules (start_rules) start the pipelines; polling would start them twice.
            "PollForSourceChanges": False,
        }

    def start_rules(self, ctx: ProjectContext) -> list[StartRule]:
        names = self.names(ctx.config)
        return [
            StartRule(
                title,
                names[f"{kind}_push_rule"],
                f"Starts the {ctx.pipelines[kind].title} when {SOURCE_BRANCH} changes",
                {
                    "source": ["aws.codecommit"],
                    "detail-type": ["CodeCommit Repository State Change"],
                    "resources": [ctx.arn("codecommit", names[f"{kind}_repository"])],
                    "detail": {
                        "event": ["referenceCreated", "referenceUpdated"],
                        "referenceType": ["branch"],
                        "referenceName": [SOURCE_BRANCH],
                    },
                },
                kind,
                (ctx.pipelines[kind].title, ctx.repositories[kind].title),
            )
            for kind, title in PUSH_RULE_TITLES.items()
        ]
