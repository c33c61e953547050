"""Every IAM statement the templates contain, with a Sid that says its intent.

One module per concern, each name importable from here (``from generator import iam``):

* ``scopes``: ARN patterns of the team's resources (``Scope``), account pins, image repositories;
* ``trust``: the service principals, trust policies and ``iam:PassRole`` statements;
* ``keys``: the KMS action lists, the roles' use of the key and the key policy;
* ``guardrail``: the tag guardrail and its split into managed policies;
* ``boundary``: the permissions boundary of every project role (the team's ceiling);
* one module per actor: ``launch`` (Service Catalog), ``codebuild``, ``codepipeline``,
  ``events``, ``deploy`` (the deploy stage's CloudFormation), ``sagemaker``, ``studio_user``;
  ``runtime`` picks a runtime role's policy by purpose;
* ``statements``: helpers every role shares, and ``to_cfn`` (awacs document to template data);
* ``tables``: reads the permission tables, which are data under ``generator/data/iam_*.yaml``.

What depends on the source provider (the launch role's repository types and connection grant,
the CodePipeline role's source access, the Studio user policy's team-tagged services) is the
provider's (``generator.sources``), passed in as ``source``: that package imports this one, never
the reverse.

Roles are one per service principal, not one role trusted by ten services, and one set per
project (each project stack creates its own). Their resource scopes come from
``generator.naming``: project resources are named ``<project name>-<project id>[-...]``, so a
project role names its project's resources exactly (``Scope(config, one_project=True)``); what
serves the whole team (the boundary, the Studio user policy) uses ``*-<suffix>-p-*``. Where SageMaker picks a
name we cannot predict (jobs started by SageMaker Pipelines are named ``pipelines-...``), the
scope is the request tag ``sagemaker:project-name`` instead.
"""

from generator.iam.boundary import boundary_size, project_role_boundary
from generator.iam.codebuild import codebuild_policy
from generator.iam.codepipeline import codepipeline_policy
from generator.iam.deploy import DEPLOY_EXTRA_PERMISSIONS, DEPLOY_PERMISSIONS, cloudformation_policy
from generator.iam.events import events_policy
from generator.iam.guardrail import (
    GUARDED_CREATES,
    GUARDRAIL_BLOCKS_UNTAGGABLE,
    GUARDRAIL_CREATES,
    GUARDRAIL_SKIPS,
    MANAGED_POLICY_MAX_CHARS,
    NETWORK_ISOLATION_ACTIONS,
    OUTPUT_KEY_ACTIONS,
    VOLUME_KEY_ACTIONS,
    policy_size,
    tag_guardrail,
    tag_guardrail_documents,
)
from generator.iam.keys import (
    KEY_ADMIN_ACTIONS,
    KEY_CRYPTO_ACTIONS,
    KEY_DATA_ACTIONS,
    KEY_USE_ACTIONS,
    KEY_VIA_SERVICES,
    key_policy,
    key_via_services,
)
from generator.iam.launch import (
    BOUNDED_ROLE_ACTIONS,
    CONNECTION_LAUNCH_ACTIONS,
    FOREIGN_LAUNCH_ACTIONS,
    LAUNCH_PERMISSIONS,
    SERVICE_CATALOG_COPY_TAG,
    SERVICE_CATALOG_COPY_URL,
    UNSCOPED_LAUNCH_ACTIONS,
    launch_permissions,
    launch_policy,
    launch_resources,
    seed_code_key_policy,
)
from generator.iam.runtime import runtime_policy
from generator.iam.sagemaker import sagemaker_policy
from generator.iam.scopes import (
    ACCOUNT,
    IMAGE_ACCOUNTS_FILE,
    PARTITION,
    REGION,
    Scope,
    image_repositories,
    in_this_account,
)
from generator.iam.statements import to_cfn
from generator.iam.studio_user import TEAM_TAGGED_SERVICES, studio_user_policy
from generator.iam.tables import HANDLER_PERMISSIONS_LEFT_OUT
from generator.iam.trust import RUNTIME_ROLES, SERVICE_PRINCIPALS, TRUST_CONDITIONS, trust_policy

__all__ = [
    "BOUNDED_ROLE_ACTIONS",
    "ACCOUNT",
    "CONNECTION_LAUNCH_ACTIONS",
    "DEPLOY_EXTRA_PERMISSIONS",
    "DEPLOY_PERMISSIONS",
    "FOREIGN_LAUNCH_ACTIONS",
    "GUARDED_CREATES",
    "GUARDRAIL_BLOCKS_UNTAGGABLE",
    "GUARDRAIL_CREATES",
    "GUARDRAIL_SKIPS",
    "HANDLER_PERMISSIONS_LEFT_OUT",
    "IMAGE_ACCOUNTS_FILE",
    "KEY_ADMIN_ACTIONS",
    "KEY_CRYPTO_ACTIONS",
    "KEY_DATA_ACTIONS",
    "KEY_USE_ACTIONS",
    "KEY_VIA_SERVICES",
    "LAUNCH_PERMISSIONS",
    "MANAGED_POLICY_MAX_CHARS",
    "NETWORK_ISOLATION_ACTIONS",
    "OUTPUT_KEY_ACTIONS",
    "PARTITION",
    "REGION",
    "RUNTIME_ROLES",
    "SERVICE_CATALOG_COPY_TAG",
    "SERVICE_CATALOG_COPY_URL",
    "SERVICE_PRINCIPALS",
    "Scope",
    "TEAM_TAGGED_SERVICES",
    "TRUST_CONDITIONS",
    "UNSCOPED_LAUNCH_ACTIONS",
    "VOLUME_KEY_ACTIONS",
    "boundary_size",
    "cloudformation_policy",
    "codebuild_policy",
    "codepipeline_policy",
    "events_policy",
    "image_repositories",
    "in_this_account",
    "key_policy",
    "key_via_services",
    "launch_permissions",
    "launch_policy",
    "launch_resources",
    "policy_size",
    "project_role_boundary",
    "runtime_policy",
    "sagemaker_policy",
    "seed_code_key_policy",
    "studio_user_policy",
    "tag_guardrail",
    "tag_guardrail_documents",
    "to_cfn",
    "trust_policy",
]
