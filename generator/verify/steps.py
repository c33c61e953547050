"""The steps that refuse a wrong account and set a project up: publish, portfolio, product, project.

Each step takes the `Target` and the `Run`, registers what it creates with `run.create` as soon
as AWS accepted it (so a failure or Ctrl-C right after still deletes it), and returns its
evidence. The later steps, which watch the project work, are in `checks`.
"""

from __future__ import annotations

import re

from botocore.exceptions import BotoCoreError, ClientError

from generator import aws, naming, tagging
from generator import publish as publishing
from generator.errors import AwsError, UserError
from generator.verify.engine import Run, StepFailed
from generator.verify.plan import TAG, product_stack_name, project_name, run_prefix
from generator.verify.resources import (
    Target,
    delete_portfolio,
    delete_prefix,
    delete_project,
    delete_stack,
    tag_list,
)

_ASSUMED_ROLE = re.compile(r"^arn:(?P<partition>[^:]+):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/.+$")
_FAILED = re.compile(r"(FAILED|ROLLBACK)")


def refuse_wrong_target(target: Target) -> str:
    """The caller's ARN, or a refusal: another account, a bucket elsewhere, a team already there."""
    clients = target.clients
    try:
        identity = clients.sts.get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        raise AwsError(f"cannot identify the caller (sts:GetCallerIdentity): {error}") from error
    if identity["Account"] != target.account:
        raise UserError(
            f"refusing to start: the credentials are for account {identity['Account']}, not --account-id "
            f"{target.account}; verify runs only in the account you name"
        )
    try:
        head = clients.s3.head_bucket(Bucket=target.bucket, ExpectedBucketOwner=target.account)
    except ClientError as error:
        if aws.error_code(error) in ("403", "AccessDenied"):
            raise UserError(
                f"refusing to start: bucket {target.bucket!r} is not owned by account {target.account} "
                "(or the caller may not list it); use a bucket of the sandbox account"
            ) from error
        raise AwsError(f"bucket {target.bucket!r}: {aws.describe(error)}") from error
    located = head.get("BucketRegion") or head["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")
    if located and located != target.region:
        raise UserError(f"refusing to start: bucket {target.bucket!r} is in {located}, not {target.region}")
    parameter = naming.key_arn_parameter(target.config).pattern
    try:
        clients.ssm.get_parameter(Name=parameter)
    except ClientError as error:
        if aws.error_code(error) != "ParameterNotFound":
            raise AwsError(f"cannot read SSM parameter {parameter}: {aws.describe(error)}") from error
    else:
        raise UserError(
            f"refusing to start: SSM parameter {parameter} exists (a product stack of namespace "
            f"{target.config.namespace!r} is or was here); give verify a --config with a namespace of its own"
        )
    return identity["Arn"]


def publish(target: Target, run: Run) -> str:
    prefix = run_prefix(run.run_id)
    run.create(f"objects s3://{target.bucket}/{prefix}/", lambda r: delete_prefix(target, r, prefix))
    outcome = publishing.publish(
        target.config,
        target.dist,
        target.bucket,
        prefix=prefix,
        region=target.region,
        profile=target.profile,
        release=target.release,
    )
    project_template = publishing.published(target.config)[-2]
    for key in outcome.uploaded:
        tags = tag_list(run.run_id)
        if key == outcome.key(project_template):
            tags.append({"Key": publishing.PROVISIONING_TAG[0], "Value": publishing.PROVISIONING_TAG[1]})
        target.clients.s3.put_object_tagging(Bucket=target.bucket, Key=key, Tagging={"TagSet": tags})
    run.values["publish"] = outcome
    return f"s3://{target.bucket}/{prefix}/ ({len(outcome.uploaded)} objects)"


def portfolio(target: Target, run: Run) -> str:
    detail = target.clients.servicecatalog.create_portfolio(
        DisplayName=f"verify-{run.run_id}",
        Description="Temporary portfolio of an mlops-templates verify run",
        ProviderName="mlops-templates verify",
        Tags=tag_list(run.run_id),
        IdempotencyToken=f"verify-{run.run_id}-portfolio",
    )["PortfolioDetail"]
    run.values["portfolio_id"] = detail["Id"]
    run.create(f"portfolio {detail['Id']}", lambda r: delete_portfolio(target, r, detail["Id"]))
    return detail["ARN"]


def _product_parameters(target: Target, run: Run) -> dict[str, str]:
    outcome = run.values["publish"]
    return {
        # The account root keeps the key administrable by the account's own IAM policies.
        "KmsAdministratorArn": f"arn:{outcome.partition}:iam::{target.account}:root",
        "PortfolioId": run.values["portfolio_id"],
        "ProductName": f"{naming.product_name_default(target.config)} verify {run.run_id}",
        "ProductOwner": "mlops-templates verify",
        "SupportEmail": "verify@example.com",
        "SupportUrl": "https://example.com/mlops-templates-verify",
        "TemplateBucket": target.bucket,
        "TemplatePrefix": outcome.prefix,
        "SeedCodeKmsKeyArn": outcome.kms_key_arn,
    }


def product_stack(target: Target, run: Run) -> str:
    cloudformation = target.clients.cloudformation
    name = product_stack_name(target.config, run.run_id)
    stack_id = cloudformation.create_stack(
        StackName=name,
        # `published` lists the product template last.
        TemplateURL=run.values["publish"].object_url(publishing.published(target.config)[-1]),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in _product_parameters(target, run).items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
        Tags=tag_list(run.run_id),
        ClientRequestToken=f"verify-{run.run_id}-product",
    )["StackId"]
    run.create(f"product stack {name}", lambda r: delete_stack(target, r, name))

    def created():
        stack = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]
        if stack["StackStatus"] == "CREATE_COMPLETE":
            return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if _FAILED.search(stack["StackStatus"]):
            raise StepFailed(f"product stack {stack['StackStatus']}: {_first_failure(cloudformation, stack_id)}")
        return None

    outputs = run.wait(f"product stack {name}", created)
    missing = [key for key in ("ProductId", "KmsKeyArn") if key not in outputs]
    if missing:
        raise StepFailed(f"product stack has no output {', '.join(missing)}")
    run.values["product"] = outputs
    return f"{stack_id}; product {outputs['ProductId']}; key {outputs['KmsKeyArn']}"


def _first_failure(cloudformation, stack_id: str) -> str:
    """The earliest failed resource event of the stack: the cause, not the rollback it set off."""
    events = cloudformation.describe_stack_events(StackName=stack_id)["StackEvents"]
    failed = [e for e in events if e.get("ResourceStatus", "").endswith("_FAILED")]
    if not failed:
        return "no failed resource event"
    first = failed[-1]
    return f"{first['LogicalResourceId']} {first['ResourceStatus']}: {first.get('ResourceStatusReason', '')}"


def principal_arn(target: Target, caller_arn: str) -> str:
    """The IAM ARN of the caller: a role's real ARN (with its path) for an assumed-role session."""
    match = _ASSUMED_ROLE.match(caller_arn)
    if match is None:
        return caller_arn
    return target.clients.iam.get_role(RoleName=match["role"])["Role"]["Arn"]


def grant_portfolio(target: Target, run: Run) -> str:
    catalog = target.clients.servicecatalog
    portfolio_id = run.values["portfolio_id"]
    arn = principal_arn(target, target.caller_arn)
    catalog.associate_principal_with_portfolio(PortfolioId=portfolio_id, PrincipalARN=arn, PrincipalType="IAM")

    def revoke(_: Run) -> str:
        catalog.disassociate_principal_from_portfolio(PortfolioId=portfolio_id, PrincipalARN=arn)
        return ""

    run.create(f"portfolio access of {arn}", revoke)
    return f"{arn} on {portfolio_id}"


def required_tag_values(target: Target) -> dict[str, str]:
    """A value the template accepts for every required tag: its default, its first allowed value, or "verify"."""
    return {
        tag.key: tag.default or (tag.allowed_values[0] if tag.allowed_values else "verify")
        for tag in target.config.required_tags
    }


def create_project(target: Target, run: Run) -> str:
    product_id = run.values["product"]["ProductId"]
    version = target.config.product_version
    artifacts = target.clients.servicecatalog.list_provisioning_artifacts(ProductId=product_id)
    found = [a["Id"] for a in artifacts["ProvisioningArtifactDetails"] if a.get("Name") == version]
    if not found:
        raise StepFailed(f"product {product_id} has no provisioning artifact named {version}")
    name = project_name(target.config, run.run_id)
    values = required_tag_values(target)
    run.values["tags"] = values
    project = target.clients.sagemaker.create_project(
        ProjectName=name,
        ProjectDescription=f"mlops-templates verify run {run.run_id}",
        ServiceCatalogProvisioningDetails={
            "ProductId": product_id,
            "ProvisioningArtifactId": found[0],
            "ProvisioningParameters": [
                {"Key": tagging.tag_parameter_name(key), "Value": value} for key, value in values.items()
            ],
        },
        Tags=[{"Key": TAG, "Value": run.run_id}],
    )
    run.values["project_name"] = name
    run.values["project_id"] = project["ProjectId"]
    run.create(f"SageMaker project {name}", lambda r: delete_project(target, r, name))
    return f"{project['ProjectArn']} ({project['ProjectId']})"
