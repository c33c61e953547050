"""The CodeBuild role: the model build, the deploy config build and the staging test build."""

from __future__ import annotations

from awacs import cloudformation, sagemaker
from awacs.aws import PolicyDocument

from generator.config import EndpointKind
from generator.iam.keys import key_use
from generator.iam.scopes import Scope
from generator.iam.statements import ANYWHERE, allow, bucket_read_write, document, no_self_approval, write_logs
from generator.iam.trust import pass_role


def codebuild_policy(scope: Scope, key_arn_sub: str) -> PolicyDocument:
    return document(
        write_logs(scope, "codebuild"),
        *bucket_read_write(scope),
        *key_use(key_arn_sub),
        allow("AllowReadingProjectTags", [sagemaker.ListTags], [scope.project()]),
        allow(
            "AllowUpsertAndStartProjectPipelines",
            [
                sagemaker.CreatePipeline,
                sagemaker.UpdatePipeline,
                sagemaker.DescribePipeline,
                sagemaker.StartPipelineExecution,
                sagemaker.DescribePipelineExecution,
                sagemaker.ListPipelineExecutionSteps,
                sagemaker.AddTags,
                sagemaker.ListTags,
            ],
            scope.pipelines(),
        ),
        allow("AllowReadingProjectModelRegistry", [sagemaker.DescribeModelPackage], [scope.model_packages()]),
        # ListModelPackages takes the group as a request parameter and has no required resource
        # type: a group ARN would never match the request.
        allow("AllowListingModelPackages", [sagemaker.ListModelPackages], ANYWHERE),
        allow(
            "AllowInvokingStagingEndpoints",
            # The staging test invokes the kind of endpoint the project deploys.
            [
                sagemaker.InvokeEndpointAsync
                if scope.config.endpoint_kind is EndpointKind.ASYNC
                else sagemaker.InvokeEndpoint
            ],
            [scope.sagemaker("endpoint", scope.glob + "-staging")],
        ),
        allow("AllowReadingDeployStackOutputs", [cloudformation.DescribeStacks], [scope.stack()]),
        pass_role(scope, "sagemaker"),
        no_self_approval(),
    )
