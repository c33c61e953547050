"""The product stack a platform engineer uploads once per team: `create-async-endpoint-product.yaml`.

It creates the customer-managed key, the launch role, the permissions boundary and tag guardrail
that every role a project stack creates for itself carries (``project_roles``), the SSM
parameters through which project stacks find the key and
the published seed code (and what the source provider publishes: with ``source_provider:
codeconnections``, the connection), and the Service Catalog product that SageMaker Studio lists.
The source provider (``sources.source_for``) adds its parameters and SSM values, and is passed to
the policies that depend on it.
"""

from __future__ import annotations

from troposphere import Equals, Export, GetAtt, Not, Output, Ref, Sub, Tags, Template
from troposphere.iam import ManagedPolicy, Role, RolePolicy
from troposphere.kms import Alias, Key
from troposphere.servicecatalog import (
    CloudFormationProduct,
    Info,
    LaunchRoleConstraint,
    PortfolioProductAssociation,
    ProvisioningArtifactProperties,
)
from troposphere.ssm import Parameter as SsmParameter

from generator import encryption, iam, naming, tagging
from generator.config import Config, EndpointKind
from generator.parameters import BUCKET_NAME_PATTERN, ParameterSpec, add_parameters
from generator.sources import source_for
from generator.tagging import STUDIO_VISIBILITY_TAG

PROJECT_TEMPLATE_FILE = "MLOps-template-example.yml"
SEED_KEY_PARAM = "SeedCodeKmsKeyArn"
SEED_KEY_CONDITION = "SeedCodeIsKmsEncrypted"
# Keeps the launch role's policy (which names the prefix) inside IAM's inline-policy budget.
TEMPLATE_PREFIX_MAX = 200
ROLE_IDS = {"launch": "LaunchRole"}


def _parameters(template: Template, config: Config) -> dict[str, Ref]:
    """The form, in order: the product's, support and publishing, then the source provider's."""
    specs = [*_product_specs(config), *_support_and_publishing_specs(), *source_for(config).product_parameter_specs()]
    return add_parameters(template, specs)


def _product_specs(config: Config) -> list[ParameterSpec]:
    """The key administrator and the Service Catalog product, in the Studio form's order."""
    product = "Service Catalog product"
    return [
        ParameterSpec(
            "KmsAdministratorArn",
            "Principal allowed to administer (not use) the project key",
            "Key administration",
            "KMS key administrator ARN",
            allowed_pattern=r"^arn:aws[a-z-]*:iam::\d{12}:(root|(role|user)/[\w+=,.@/-]{1,512})$",
            constraint_description="an IAM role, user or account-root ARN",
        ),
        ParameterSpec(
            "PortfolioId",
            "Existing Service Catalog portfolio the product joins",
            product,
            "Portfolio id",
            allowed_pattern=r"^port-[a-z0-9]{13}$",
            constraint_description="port- followed by 13 lowercase letters or digits",
        ),
        ParameterSpec(
            "ProductName",
            "Name shown in SageMaker Studio's project templates",
            product,
            "Product name",
            default=naming.product_name_default(config),
            min_length=1,
            max_length=100,
            allowed_pattern=r"^[\w .:/=+@-]+$",
        ),
        ParameterSpec(
            "ProductDescription",
            "Description shown in Studio",
            product,
            "Product description",
            default="SageMaker project: model build pipeline and an encrypted "
            f"{'asynchronous' if config.endpoint_kind is EndpointKind.ASYNC else 'real-time'} "
            "inference endpoint, with tags enforced",
            min_length=1,
            max_length=4096,
        ),
        ParameterSpec(
            "ProductOwner", "Owner (team) of the product", product, "Product owner", min_length=1, max_length=4096
        ),
        ParameterSpec(
            "ProductDistributor",
            "Distributor shown in Service Catalog",
            product,
            "Product distributor",
            default="",
            max_length=4096,
        ),
    ]


def _support_and_publishing_specs() -> list[ParameterSpec]:
    """The form's parameters after the product's, in order."""
    published = "Published templates"
    return [
        ParameterSpec(
            "SupportDescription",
            "How to get help with the product",
            "Support",
            "Support description",
            default="",
            max_length=4096,
        ),
        ParameterSpec(
            "SupportEmail",
            "Support contact email",
            "Support",
            "Support email",
            allowed_pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
            constraint_description="an email address",
        ),
        ParameterSpec(
            "SupportUrl",
            "Support page",
            "Support",
            "Support URL",
            allowed_pattern=r"^https://[^\s]+$",
            constraint_description="an https:// URL",
        ),
        ParameterSpec(
            "TemplateBucket",
            "Bucket `mlops-templates publish` uploaded the project template and seed code to",
            published,
            "Bucket of the published templates",
            allowed_pattern=BUCKET_NAME_PATTERN,
            constraint_description="an S3 bucket name",
        ),
        ParameterSpec(
            "TemplatePrefix",
            "Versioned prefix printed by `mlops-templates publish`, e.g. releases/v0.1.0",
            published,
            "Prefix of the published templates",
            allowed_pattern=r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$",
            max_length=TEMPLATE_PREFIX_MAX,
            constraint_description="a key prefix without leading or trailing slash",
        ),
        ParameterSpec(
            SEED_KEY_PARAM,
            "The key `mlops-templates publish --kms-key-id` encrypted the seed code with "
            "(publish prints it); the launch role may decrypt with it through S3 only",
            published,
            "KMS key of the published seed code (optional)",
            default="",
            allowed_pattern=rf"^({encryption.KEY_ARN})?$",
            constraint_description="empty (published with SSE-S3 or the AWS managed key) or a KMS key ARN",
        ),
    ]


def _tags(config: Config, *extra: tuple[str, str]) -> Tags:
    return Tags(
        {
            "mlops:namespace": config.namespace,
            "mlops:project-suffix": config.project_suffix,
            tagging.TEAM_TAG: tagging.team(config),
            **dict(extra),
        }
    )


def _roles(template: Template, config: Config) -> list[str]:
    """The launch role, and what caps the roles each project creates: the tag guardrail and the
    permissions boundary. Returns the guardrail policies' logical ids."""
    guardrails = [
        template.add_resource(
            ManagedPolicy(
                "TagGuardrailPolicy" + (str(index + 1) if index else ""),
                ManagedPolicyName=naming.guardrail_policy_name(config, index).sub(),
                Description=(
                    "Denies SageMaker creates without the required tags "
                    f"({', '.join(config.tag_keys)}) and removal of those tags"
                    + (f" (part {index + 1})" if index else "")
                ),
                PolicyDocument=iam.to_cfn(document),
            )
        )
        for index, document in enumerate(iam.tag_guardrail_documents(config))
    ]
    template.add_resource(
        ManagedPolicy(
            "ProjectRoleBoundary",
            ManagedPolicyName=naming.boundary_policy_name(config).sub(),
            Description=(
                f"Permissions boundary of every {tagging.team(config)} project role: the team's resources, nothing else"
            ),
            PolicyDocument=iam.to_cfn(iam.project_role_boundary(config, "${ProjectKey.Arn}", source_for(config))),
        )
    )
    template.add_resource(
        Role(
            ROLE_IDS["launch"],
            RoleName=naming.role_name(config, "launch").sub(),
            Description=f"{config.namespace}/{config.project_suffix} SageMaker projects: launch",
            AssumeRolePolicyDocument=iam.to_cfn(iam.trust_policy("launch")),
            MaxSessionDuration=3600,
            Tags=_tags(config),
        )
    )
    seed_code_objects = "arn:${AWS::Partition}:s3:::${TemplateBucket}/${TemplatePrefix}/seed_code/*"
    template.add_resource(
        RolePolicy(
            "LaunchRolePolicy",
            RoleName=Ref(ROLE_IDS["launch"]),
            PolicyName="provision-update-terminate-projects",
            PolicyDocument=iam.to_cfn(iam.launch_policy(config, seed_code_objects, source_for(config))),
        )
    )
    template.add_condition(SEED_KEY_CONDITION, Not(Equals(Ref(SEED_KEY_PARAM), "")))
    template.add_resource(
        RolePolicy(
            "LaunchRoleSeedCodeKeyPolicy",
            Condition=SEED_KEY_CONDITION,
            RoleName=Ref(ROLE_IDS["launch"]),
            PolicyName="decrypt-published-seed-code",
            PolicyDocument=iam.to_cfn(iam.seed_code_key_policy(f"${{{SEED_KEY_PARAM}}}")),
        )
    )
    return [guardrail.title for guardrail in guardrails]


def _key(template: Template, config: Config) -> None:
    key = template.add_resource(
        Key(
            "ProjectKey",
            Description=(
                f"Customer-managed key of the {config.namespace}/{config.project_suffix} SageMaker "
                "projects: artifact buckets, pipeline artifacts, builds, jobs, endpoints, topics"
            ),
            EnableKeyRotation=True,
            PendingWindowInDays=30,
            KeyPolicy=iam.key_policy(config, Ref("KmsAdministratorArn")),
            Tags=_tags(config),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    template.add_resource(Alias("ProjectKeyAlias", AliasName=naming.key_alias(config).sub(), TargetKeyId=Ref(key)))
    # The team's people: attach to their Studio execution roles, which also carry the team tag.
    template.add_resource(
        ManagedPolicy(
            "StudioUserPolicy",
            Description=(
                f"Studio execution roles of team {tagging.team(config)}: their projects' data and key, "
                "nothing of another team's, approval only by designated approvers"
            ),
            PolicyDocument=iam.to_cfn(iam.studio_user_policy(config, "${ProjectKey.Arn}", source_for(config))),
        )
    )
    ssm_values = (
        (
            "KeyArnParameter",
            naming.key_arn_parameter(config),
            GetAtt(key, "Arn"),
            "ARN of the projects' customer-managed key",
        ),
        (
            "SeedCodeBucketParameter",
            naming.seed_code_bucket_parameter(config),
            Ref("TemplateBucket"),
            "Bucket holding the published seed code",
        ),
        (
            "SeedCodePrefixParameter",
            naming.seed_code_prefix_parameter(config),
            Ref("TemplatePrefix"),
            "Prefix of the published seed code",
        ),
    )
    ssm_values += tuple(source_for(config).product_ssm_values(config))
    for logical_id, name, value, description in ssm_values:
        # Projects read the key ARN from here on every update. Kept when the product stack is
        # deleted, so re-creating the stack fails on the existing name instead of silently
        # pointing existing projects at a new key while their data stays under the old one.
        retain = (
            {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"} if logical_id == "KeyArnParameter" else {}
        )
        template.add_resource(
            SsmParameter(
                logical_id,
                Name=name.sub(),
                Type="String",
                Value=value,
                Description=description,
                Tags={"mlops:namespace": config.namespace, "mlops:project-suffix": config.project_suffix},
                **retain,
            )
        )


def _product(template: Template, config: Config, params: dict[str, Ref]) -> None:
    template_url = Sub(
        "https://${TemplateBucket}.s3.${AWS::Region}.${AWS::URLSuffix}/${TemplatePrefix}/" + PROJECT_TEMPLATE_FILE
    )
    product = template.add_resource(
        CloudFormationProduct(
            "Product",
            Name=params["ProductName"],
            Description=params["ProductDescription"],
            Owner=params["ProductOwner"],
            Distributor=params["ProductDistributor"],
            SupportDescription=params["SupportDescription"],
            SupportEmail=params["SupportEmail"],
            SupportUrl=params["SupportUrl"],
            ProvisioningArtifactParameters=[
                ProvisioningArtifactProperties(
                    Name=config.product_version,
                    Description="Project template generated by sagemaker-secure-project",
                    Info=Info(LoadTemplateFromURL=template_url),
                )
            ],
            Tags=_tags(config, (STUDIO_VISIBILITY_TAG, "true")),
        )
    )
    association = template.add_resource(
        PortfolioProductAssociation(
            "ProductPortfolioAssociation",
            PortfolioId=params["PortfolioId"],
            ProductId=Ref(product),
        )
    )
    template.add_resource(
        LaunchRoleConstraint(
            "ProductLaunchRoleConstraint",
            DependsOn=[association.title, "LaunchRolePolicy"],
            PortfolioId=params["PortfolioId"],
            ProductId=Ref(product),
            # A local role name resolves in whichever account the portfolio is shared to.
            LocalRoleName=Ref(ROLE_IDS["launch"]),
            Description="Provision, update and terminate projects with the least-privilege launch role",
        )
    )


def _outputs(template: Template, config: Config, guardrail_ids: list[str]) -> None:
    outputs = [
        ("ProductId", Ref("Product"), "Service Catalog product id"),
        ("ProductName", GetAtt("Product", "ProductName"), "Service Catalog product name"),
        ("PortfolioId", Ref("PortfolioId"), "Portfolio the product belongs to"),
        ("KmsKeyArn", GetAtt("ProjectKey", "Arn"), "Customer-managed key of the projects"),
        ("KmsKeyAlias", Ref("ProjectKeyAlias"), "Alias of the key"),
        (
            "StudioUserPolicyArn",
            Ref("StudioUserPolicy"),
            "Attach to the Studio execution roles of the team's people, "
            f"tagged {tagging.TEAM_TAG}={tagging.team(config)}",
        ),
        *[
            (
                f"{logical_id}Arn",
                Ref(logical_id),
                "Attach to Studio execution roles to enforce the required tags there too",
            )
            for logical_id in guardrail_ids
        ],
        ("LaunchRoleArn", GetAtt(ROLE_IDS["launch"], "Arn"), "launch role of the product"),
        (
            "ProjectRoleBoundaryArn",
            Ref("ProjectRoleBoundary"),
            "Permissions boundary every project role carries",
        ),
    ]
    for name, value, description in outputs:
        template.add_output(
            Output(name, Value=value, Description=description, Export=Export(Sub("${AWS::StackName}-" + name)))
        )


def build(config: Config) -> Template:
    template = Template(
        Description=(
            "Secure SageMaker project product: customer-managed KMS key, least-privilege roles "
            "with a required-tag guardrail, and the Service Catalog product shown in SageMaker Studio"
        )
    )
    template.set_version("2010-09-09")
    params = _parameters(template, config)
    guardrail_ids = _roles(template, config)
    _key(template, config)
    _product(template, config, params)
    _outputs(template, config, guardrail_ids)
    return template
