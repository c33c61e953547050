"""The SageMaker execution role: the pipeline's jobs and the project's endpoints.

SageMaker Pipelines names the jobs it starts (``pipelines-...``), so their names cannot be
scoped: creating them needs the request tag ``sagemaker:project-name`` ending in the team's
suffix, and acting on them afterwards the same resource tag.
"""

from __future__ import annotations

from awacs import cloudwatch, ecr, sagemaker, sns
from awacs.aws import PolicyDocument, StringLike

from generator.config import EndpointKind
from generator.iam.keys import key_use
from generator.iam.scopes import Scope, image_repositories
from generator.iam.statements import (
    ANYWHERE,
    allow,
    bucket_read_write,
    document,
    no_self_approval,
    project_tagged,
    write_logs,
)
from generator.iam.trust import pass_role


def sagemaker_policy(scope: Scope, key_arn_sub: str) -> PolicyDocument:
    """The pipeline's and the endpoints' execution role."""
    return document(
        *bucket_read_write(scope),
        *key_use(key_arn_sub, grants=True),
        write_logs(scope, "sagemaker"),
        allow(
            "AllowPipelineJobsTaggedWithAProject",
            [sagemaker.CreateProcessingJob, sagemaker.CreateTrainingJob, sagemaker.AddTags],
            [scope.sagemaker("processing-job", "*"), scope.sagemaker("training-job", "*")],
            project_tagged(scope),
        ),
        # Pipeline job names do not carry the project: the project tag scopes them.
        allow(
            "AllowManagingThisTeamsPipelineJobs",
            [
                sagemaker.DescribeProcessingJob,
                sagemaker.DescribeTrainingJob,
                sagemaker.StopProcessingJob,
                sagemaker.StopTrainingJob,
            ],
            [scope.sagemaker("processing-job", "pipelines-*"), scope.sagemaker("training-job", "pipelines-*")],
            project_tagged(scope, "aws:ResourceTag"),
        ),
        allow(
            "AllowRegisteringModelsInProjectGroups",
            [
                sagemaker.CreateModelPackage,
                sagemaker.DescribeModelPackage,
                sagemaker.DescribeModelPackageGroup,
                sagemaker.AddTags,
            ],
            [scope.sagemaker("model-package-group"), scope.model_packages()],
        ),
        allow(
            "AllowPipelineRunsOfProjectPipelines",
            [sagemaker.DescribePipeline, sagemaker.DescribePipelineExecution, sagemaker.ListPipelineExecutionSteps],
            scope.pipelines(),
        ),
        *(
            [allow("AllowAsyncInferenceNotifications", [sns.Publish], [scope.topic()])]
            if scope.config.endpoint_kind is EndpointKind.ASYNC
            else []
        ),
        # Training containers publish metrics; PutMetricData has no resource scope.
        allow(
            "AllowSageMakerMetrics",
            [cloudwatch.PutMetricData],
            ANYWHERE,
            StringLike("cloudwatch:namespace", "/aws/sagemaker/*"),
        ),
        # GetAuthorizationToken has no resource-level permissions.
        allow("AllowEcrLogin", [ecr.GetAuthorizationToken], ANYWHERE),
        allow(
            "AllowPullingSageMakerImages",
            [ecr.BatchGetImage, ecr.GetDownloadUrlForLayer, ecr.BatchCheckLayerAvailability],
            image_repositories(scope.config),
        ),
        pass_role(scope, "sagemaker"),
        no_self_approval(),
    )
