"""E9042: Resource * only for actions that have no resource-level permissions."""

from generator.rules import _common as c

# Action -> (why it needs Resource *, condition key the statement must then carry or None).
# Each entry is checked against the Service Authorization Reference data in the tests
# (tests/test_rules.py): the action exists, has no required resource type there (or its ARN
# cannot be written in advance, as the reason says), and supports the condition key named.
STAR_RESOURCE_ACTIONS: dict[str, tuple[str, str | None]] = {
    "ecr:GetAuthorizationToken": ("the registry login token is account-wide; the action has no resource type", None),
    "cloudwatch:PutMetricData": (
        "metrics have no ARN (only the optional dataset type); scoped by the namespace condition",
        "cloudwatch:namespace",
    ),
    "cloudformation:ValidateTemplate": ("validates a template body or URL, not a stack; no resource type", None),
    "cloudformation:GetTemplateSummary": (
        "called with a template URL before any stack exists (the stack type is optional)",
        None,
    ),
    "codecommit:ListRepositories": ("a list action with no resource type", None),
    "logs:DescribeLogGroups": ("a list action with no resource type", None),
    "logs:DescribeResourcePolicies": ("a describe action with no resource type", None),
    "logs:DescribeIndexPolicies": ("a describe action with no resource type", None),
    "cloudwatch:GetMetricData": (
        "metrics have no ARN (only the optional dataset type); a read of the tracked metric",
        None,
    ),
    # Service Catalog's copy of the project template lives in a bucket the service owns, whose
    # name the template cannot know; the documented tag condition is what scopes it (Service
    # Catalog administrator guide, "Launch constraints").
    "s3:GetObject": (
        "the service-owned copy of a provisioned template; scoped by its provisioning tag",
        "s3:ExistingObjectTag/servicecatalog:provisioning",
    ),
    "sagemaker:ListModelPackages": (
        "a list action; its resource type is optional and the group is a request parameter",
        None,
    ),
    # Application Auto Scaling's describe actions take no resource and no condition key, so a
    # service-namespace condition there would never match: they stay unconditioned.
    "application-autoscaling:DescribeScalableTargets": ("a describe action with no resource type", None),
    "application-autoscaling:DescribeScalingPolicies": ("a describe action with no resource type", None),
    "application-autoscaling:DescribeScheduledActions": ("a describe action with no resource type", None),
    "application-autoscaling:RegisterScalableTarget": (
        "a scalable target's ARN holds an id Application Auto Scaling generates at registration, "
        "so it cannot be written in a policy; scoped by the service-namespace condition",
        "application-autoscaling:service-namespace",
    ),
    "application-autoscaling:DeregisterScalableTarget": (
        "same generated scalable-target id as RegisterScalableTarget; scoped by service namespace",
        "application-autoscaling:service-namespace",
    ),
    "application-autoscaling:PutScalingPolicy": (
        "same generated scalable-target id as RegisterScalableTarget; scoped by service namespace",
        "application-autoscaling:service-namespace",
    ),
    "application-autoscaling:DeleteScalingPolicy": (
        "same generated scalable-target id as RegisterScalableTarget; scoped by service namespace",
        "application-autoscaling:service-namespace",
    ),
}
_ALLOWED = {action.lower(): condition for action, (_, condition) in STAR_RESOURCE_ACTIONS.items()}


class IamWildcardResourceOnlyWhereNeeded(c.ProjectRule):
    id = "E9042"
    shortdesc = "IAM Resource * only for actions without resource-level permissions"
    description = (
        "An Allow statement of an IAM identity policy with Resource * (or NotResource) lists "
        "only actions of the allow-list STAR_RESOURCE_ACTIONS in this module, each with its "
        "reason, and carries the condition key the list names for it."
    )
    source_url = "https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html"

    def match(self, cfn):
        found = []
        for name, statement, where in c.allow_statements(cfn):
            if "*" not in c.as_list(statement.get("Resource")) and "NotResource" not in statement:
                continue
            sid = statement.get("Sid", "")
            outside = [a for a in c.actions(statement) if a.lower() not in _ALLOWED]
            if outside:
                found.append(
                    c.match(
                        where,
                        f"{name}: statement {sid!r} allows {', '.join(outside)} on Resource *; "
                        "name the resources (only actions without resource-level permissions "
                        "may use *)",
                    )
                )
            keys = c.condition_keys(statement)
            needed = {_ALLOWED.get(a.lower()) for a in c.actions(statement)} - {None}
            unscoped = sorted(key for key in needed if key.lower() not in keys)
            if unscoped:
                found.append(
                    c.match(
                        where,
                        f"{name}: statement {sid!r} uses Resource * without a condition on {', '.join(unscoped)}",
                    )
                )
        return found
