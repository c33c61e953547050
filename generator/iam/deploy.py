"""The deploy stage's CloudFormation role: what the endpoint template's stack needs.

The per-type needs are data (``generator/data/iam_deploy.yaml``), each with its reason;
tests/test_iam_least_privilege.py checks them against the provider schemas and simulates every
entry against ``cloudformation_policy()``.
"""

from __future__ import annotations

from awacs import application_autoscaling, cloudwatch, iam, sagemaker, sns
from awacs.aws import PolicyDocument, Statement, StringEquals, StringEqualsIfExists

from generator import tagging
from generator.config import Config, EndpointKind
from generator.iam.keys import key_use
from generator.iam.scopes import ACCOUNT, PARTITION, Scope, arn
from generator.iam.statements import ANYWHERE, allow, document, no_self_approval
from generator.iam.tables import read, reasons, reasons_by_type
from generator.iam.trust import pass_role

_TABLES = read("iam_deploy.yaml")
_WHERE = "iam_deploy.yaml"

# Per resource type of the endpoint template: `{action: reason}`.
DEPLOY_PERMISSIONS: dict[str, dict[str, str]] = reasons_by_type(_TABLES["permissions"], _WHERE)
# Needed on those resources by a service other than the resource's own handler.
DEPLOY_EXTRA_PERMISSIONS: dict[str, str] = reasons(_TABLES["extra_permissions"], _WHERE)

AUTOSCALING_SERVICE_LINKED_ROLE = "sagemaker.application-autoscaling.amazonaws.com"


def cloudformation_policy(scope: Scope, key_arn_sub: str) -> PolicyDocument:
    """What the deploy stage's CloudFormation needs for the endpoint template of the configured kind."""
    asynchronous = scope.config.endpoint_kind is EndpointKind.ASYNC
    return document(
        *key_use(key_arn_sub, grants=True),
        *_endpoint_statements(scope),
        # Topics, the scale-from-zero alarm and scaling exist only for async endpoints.
        *(_async_statements(scope) + _scaling_statements(scope.config, scope) if asynchronous else []),
        *(
            [
                allow(
                    "AllowCreatingSageMakerScalingServiceLinkedRole",
                    [iam.CreateServiceLinkedRole],
                    [
                        f"arn:{PARTITION}:iam::{ACCOUNT}:role/aws-service-role/{AUTOSCALING_SERVICE_LINKED_ROLE}/"
                        "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
                    ],
                    StringEquals("iam:AWSServiceName", AUTOSCALING_SERVICE_LINKED_ROLE),
                )
            ]
            if asynchronous
            else []
        ),
        pass_role(scope, "sagemaker"),
        no_self_approval(),
    )


def _endpoint_statements(scope: Scope) -> list[Statement]:
    """The models, endpoint configs and endpoints of the endpoint template (either kind)."""
    return [
        allow(
            "AllowManagingProjectEndpoints",
            [
                sagemaker.CreateModel,
                sagemaker.DescribeModel,
                sagemaker.DeleteModel,
                sagemaker.CreateEndpointConfig,
                sagemaker.DescribeEndpointConfig,
                sagemaker.DeleteEndpointConfig,
                sagemaker.CreateEndpoint,
                sagemaker.DescribeEndpoint,
                sagemaker.UpdateEndpoint,
                sagemaker.DeleteEndpoint,
                sagemaker.AddTags,
                sagemaker.DeleteTags,
                sagemaker.ListTags,
            ],
            [scope.sagemaker("model"), scope.sagemaker("endpoint-config"), scope.sagemaker("endpoint")],
        ),
        allow("AllowReadingApprovedModelPackages", [sagemaker.DescribeModelPackage], [scope.model_packages()]),
    ]


def _async_statements(scope: Scope) -> list[Statement]:
    """The async endpoint's success and error topics, its scale-from-zero alarm and scaling."""
    return [
        # Registering a variant as a scalable target checks that the caller itself could change
        # the variant's capacity.
        allow(
            "AllowScalingProjectEndpointVariants",
            [sagemaker.UpdateEndpointWeightsAndCapacities],
            [scope.sagemaker("endpoint")],
        ),
        # Not SetTopicAttributes: its Policy attribute would let a template in the deploy
        # repository open a topic to another account; no condition key tells the attributes
        # apart, and the template never changes a topic after creating it.
        allow(
            "AllowManagingProjectTopics",
            [
                sns.CreateTopic,
                sns.DeleteTopic,
                sns.GetTopicAttributes,
                sns.TagResource,
                sns.UntagResource,
                sns.ListTagsForResource,
                sns.ListSubscriptionsByTopic,
                sns.GetDataProtectionPolicy,
            ],
            [scope.topic()],
        ),
        # The scale-from-zero alarm is the project's; target tracking names its own alarms
        # TargetTracking-endpoint/<endpoint>/...
        allow(
            "AllowManagingProjectAlarms",
            [
                cloudwatch.PutMetricAlarm,
                cloudwatch.DeleteAlarms,
                cloudwatch.DescribeAlarms,
                cloudwatch.TagResource,
                cloudwatch.UntagResource,
                cloudwatch.ListTagsForResource,
            ],
            [scope.alarm(), arn("cloudwatch", f"alarm:TargetTracking-endpoint/{scope.glob}")],
        ),
    ]


def _scaling_statements(config: Config, scope: Scope) -> list[Statement]:
    """Application Auto Scaling of the team's SageMaker variants."""
    sagemaker_namespace = StringEquals("application-autoscaling:service-namespace", "sagemaker")
    team_tag = f"aws:ResourceTag/{tagging.TEAM_TAG}"

    def on_targets(name: str, names: tuple[str, ...], *conditions) -> Statement:
        return allow(name, [application_autoscaling.Action(a) for a in names], [scope.scalable_targets()], *conditions)

    return [
        # Scalable targets get random ids, so their ARNs cannot be scoped: the service
        # namespace keeps these writes to SageMaker variants, the team tag the targets
        # carry to this team's (a new target has no tags yet; SageMaker itself refuses
        # registering a variant the caller may not scale, which only the team's are).
        on_targets(
            "AllowRegisteringThisTeamsSageMakerVariants",
            ("RegisterScalableTarget",),
            sagemaker_namespace,
            StringEqualsIfExists(team_tag, tagging.team(config)),
        ),
        on_targets(
            "AllowScalingThisTeamsSageMakerVariants",
            ("DeregisterScalableTarget", "PutScalingPolicy", "DeleteScalingPolicy"),
            sagemaker_namespace,
            StringEquals(team_tag, tagging.team(config)),
        ),
        on_targets("AllowTaggingScalableTargets", ("TagResource", "UntagResource", "ListTagsForResource")),
        # The scaling policy handler reads the tracked metric; GetMetricData has no
        # resource-level permissions for metrics.
        allow("AllowReadingScalingMetrics", [cloudwatch.GetMetricData], ANYWHERE),
        # Describe actions have no resource-level permissions.
        allow(
            "AllowDescribingScaling",
            [
                application_autoscaling.DescribeScalableTargets,
                application_autoscaling.DescribeScalingPolicies,
                application_autoscaling.DescribeScheduledActions,
            ],
            ANYWHERE,
        ),
    ]
