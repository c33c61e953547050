"""Invariants of the product template: is it still secure? Failures name the resource."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import cfnlint
import pytest

from conftest import resources_of
from generator import iam, naming

PRODUCT = "templates_out/create-async-endpoint-product.yaml"


@pytest.fixture(scope="module")
def product(templates):
    return templates["product"]


def _statements(document) -> list[dict]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _actions(statement) -> list[str]:
    actions = statement.get("Action", [])
    return actions if isinstance(actions, list) else [actions]


def _all_policies(product) -> list[tuple[str, dict]]:
    """(resource, document) for every IAM document in the template."""
    found = []
    for logical_id, resource in product["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("PolicyDocument", "AssumeRolePolicyDocument", "KeyPolicy"):
            if key in props:
                found.append((f"{logical_id}.{key}", props[key]))
    return found


def test_key_rotates_is_retained_and_described(product):
    for logical_id, key in resources_of(product, "AWS::KMS::Key").items():
        props = key["Properties"]
        assert props.get("EnableKeyRotation") is True, f"{PRODUCT}: {logical_id} must rotate"
        assert key.get("DeletionPolicy") == "Retain", f"{PRODUCT}: {logical_id} DeletionPolicy"
        assert key.get("UpdateReplacePolicy") == "Retain", f"{PRODUCT}: {logical_id} UpdateReplacePolicy"
        assert len(props.get("Description", "")) > 30 and props["Description"] != "String", (
            f"{PRODUCT}: {logical_id} needs a real description (defect B12)"
        )


def test_key_has_an_alias(product, config):
    aliases = resources_of(product, "AWS::KMS::Alias")
    assert [a["Properties"]["TargetKeyId"] for a in aliases.values()] == [{"Ref": "ProjectKey"}], (
        f"{PRODUCT}: exactly one alias must point at ProjectKey"
    )
    name = next(iter(aliases.values()))["Properties"]["AliasName"]
    assert name == naming.key_alias(config).pattern


def test_key_policy_separates_administration_from_use(product):
    policy = product["Resources"]["ProjectKey"]["Properties"]["KeyPolicy"]
    for statement in _statements(policy):
        principal = statement["Principal"].get("AWS")
        if "kms:*" in _actions(statement):
            assert principal == {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}, (
                f"{PRODUCT}: ProjectKey grants kms:* to {principal}; only the account root may have it"
            )
        if principal == {"Ref": "KmsAdministratorArn"}:
            data_actions = {"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom"}
            assert not data_actions & set(_actions(statement)), (
                f"{PRODUCT}: ProjectKey statement {statement['Sid']} lets the administrator use the key for data"
            )
    sids = {s["Sid"] for s in _statements(policy)}
    assert {"AllowKeyAdministrationWithoutDataAccess", "AllowProjectRolesThroughProjectServices"} <= sids


def test_product_is_visible_in_studio_and_versioned(product, config):
    ((logical_id, item),) = resources_of(product, "AWS::ServiceCatalog::CloudFormationProduct").items()
    tags = {t["Key"]: t["Value"] for t in item["Properties"]["Tags"]}
    assert tags.get("sagemaker:studio-visibility") == "true", f"{PRODUCT}: {logical_id} hidden from Studio"
    artifacts = item["Properties"]["ProvisioningArtifactParameters"]
    assert [a["Name"] for a in artifacts] == [config.product_version]
    url = artifacts[0]["Info"]["LoadTemplateFromURL"]["Fn::Sub"]
    assert "${AWS::Region}" in url and "${AWS::URLSuffix}" in url, "template URL must not name a region"


def test_launch_constraint_uses_the_launch_role(product):
    ((logical_id, constraint),) = resources_of(product, "AWS::ServiceCatalog::LaunchRoleConstraint").items()
    assert constraint["Properties"]["LocalRoleName"] == {"Ref": "LaunchRole"}, logical_id
    assert "ProductPortfolioAssociation" in constraint["DependsOn"], (
        f"{PRODUCT}: {logical_id} must wait for the portfolio association"
    )


def test_the_product_creates_only_the_launch_role(product, config):
    roles = resources_of(product, "AWS::IAM::Role")
    assert list(roles) == ["LaunchRole"], f"{PRODUCT}: roles {sorted(roles)}: project roles belong to each project"
    services = [
        s["Principal"]["Service"] for s in _statements(roles["LaunchRole"]["Properties"]["AssumeRolePolicyDocument"])
    ]
    assert services == [["servicecatalog.amazonaws.com"]], f"{PRODUCT}: LaunchRole trusts {services}"


def test_project_roles_are_one_per_service_under_the_team_path_boundary_and_guardrail(templates, config):
    project = templates["project"]
    roles = resources_of(project, "AWS::IAM::Role")
    principals = set()
    guardrail_names = {
        json.dumps(r["Properties"]["ManagedPolicyName"])
        for r in resources_of(templates["product"], "AWS::IAM::ManagedPolicy").values()
        if "-tag-guardrail" in json.dumps(r["Properties"].get("ManagedPolicyName"))
    }
    boundary_name = templates["product"]["Resources"]["ProjectRoleBoundary"]["Properties"]["ManagedPolicyName"]
    for logical_id, role in roles.items():
        where = f"MLOps-template-example.yml: {logical_id}"
        props = role["Properties"]
        statements = _statements(props["AssumeRolePolicyDocument"])
        services = [s["Principal"]["Service"] for s in statements]
        assert len(services) == 1 and len(services[0]) == 1, (
            f"{where} must trust exactly one service, trusts {services}"
        )
        principals.add(services[0][0])
        assert props["RoleName"] == {
            "Fn::Sub": "${SageMakerProjectName}-${SageMakerProjectId}-" + logical_id_purpose(logical_id)
        }, where
        assert props["Path"] == {"Fn::Sub": naming.role_path(config)}, f"{where}: path {props['Path']}"
        # The boundary and the guardrail are the product stack's, by their fixed names.
        boundary = props["PermissionsBoundary"]["Fn::Sub"]
        assert boundary.endswith(":policy/" + boundary_name["Fn::Sub"]), f"{where}: boundary {boundary}"
        attached = {json.dumps({"Fn::Sub": arn["Fn::Sub"].rsplit("/", 1)[1]}) for arn in props["ManagedPolicyArns"]}
        assert attached == guardrail_names, (
            f"{where}: attaches {attached}, the product's guardrail is {guardrail_names}"
        )
    assert principals == {iam.SERVICE_PRINCIPALS[p] for p in iam.RUNTIME_ROLES}


def logical_id_purpose(logical_id: str) -> str:
    from generator.project_roles import ROLE_TITLES

    return {title: purpose for purpose, title in ROLE_TITLES.items()}[logical_id]


def _covers(statement: dict, action: str) -> bool:
    """The statement's actions match ``action`` as IAM matches them (wildcards, any case)."""
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in _actions(statement))


def test_guardrail_denies_each_create_per_required_key_on_request_tags(product, config):
    statements = _statements(product["Resources"]["TagGuardrailPolicy"]["Properties"]["PolicyDocument"])
    for key in config.tag_keys:
        for action in iam.GUARDED_CREATES:
            action = action.JSONrepr()
            null_denies = [
                s
                for s in statements
                if s["Effect"] == "Deny"
                and _covers(s, action)
                and s.get("Condition", {}).get("Null") == {f"aws:RequestTag/{key}": "true"}
            ]
            assert null_denies, f"{PRODUCT}: TagGuardrailPolicy has no Deny of {action} without tag {key}"
            empty_denies = [
                s
                for s in statements
                if s["Effect"] == "Deny"
                and _covers(s, action)
                and s.get("Condition", {}).get("StringEquals") == {f"aws:RequestTag/{key}": ""}
            ]
            assert empty_denies, f"{PRODUCT}: TagGuardrailPolicy lets {action} through with an empty {key}"
    for statement in statements:
        null = statement.get("Condition", {}).get("Null", {})
        assert len(null) <= 1, f"{PRODUCT}: {statement['Sid']} ANDs several keys in one Null block"
        if any(_covers(statement, a.JSONrepr()) for a in iam.GUARDED_CREATES):
            assert not any(k.startswith("aws:ResourceTag/") for k in null), (
                f"{PRODUCT}: {statement['Sid']} checks ResourceTag on a create: never fires (defect B1)"
            )


def test_no_wildcard_actions_and_passrole_is_scoped(product, config):
    for where, document in _all_policies(product):
        for statement in _statements(document):
            if statement["Effect"] != "Allow":
                continue
            for action in _actions(statement):
                if action == "kms:*" and where == "ProjectKey.KeyPolicy":
                    continue  # the account root, checked above
                assert action != "*" and not action.endswith(":*"), (
                    f"{PRODUCT}: {where} {statement.get('Sid')} allows {action}"
                )
                if action == "iam:PassRole":
                    condition = statement.get("Condition", {}).get("StringEquals", {})
                    assert "iam:PassedToService" in condition, (
                        f"{PRODUCT}: {where} {statement['Sid']} passes roles to any service"
                    )
                    # Roles a project creates are matched by the team's path (only the launch role
                    # may create roles there, under the team's boundary), never by a bare wildcard.
                    for resource in statement["Resource"]:
                        text = json.dumps(resource)
                        assert "*" not in text or f":role{naming.role_path(config)}*-" in text, (
                            f"{PRODUCT}: {where} {statement['Sid']} passes roles matched by a wildcard: {text}"
                        )


def test_arns_are_partition_safe(rendered):
    text = rendered["product"]
    assert not re.search(r"arn:aws[:-]", text), f"{PRODUCT}: hard-coded partition (defect B4)"
    # The only account ids written in: AWS's SageMaker image accounts (ECR pulls pinned to them).
    image_accounts = set(json.loads(iam.IMAGE_ACCOUNTS_FILE.read_text())["accounts"].values())
    written = set(re.findall(r"\b\d{12}\b", text)) - image_accounts
    assert "us-east-1" not in text and not written, f"{PRODUCT}: a region or account id is written in: {written}"


def test_no_code_downloads_or_fixed_global_resources(product):
    types = {r["Type"] for r in product["Resources"].values()}
    assert not types & {"AWS::Lambda::Function", "AWS::CloudFormation::CustomResource", "AWS::S3::Bucket"}, (
        f"{PRODUCT}: Lambda, custom resources or a bootstrap bucket are back (defect B12): {types}"
    )


def _schema_permissions() -> dict[str, set[str]]:
    base = Path(cfnlint.__file__).parent / "data" / "schemas"
    providers = json.loads((base / "providers" / "us-east-1.json").read_text())
    result = {}
    for resource_type in iam.LAUNCH_PERMISSIONS:
        schema = json.loads((base / "resources" / f"{providers[resource_type]}.json").read_text())
        handlers = schema.get("handlers", {})
        result[resource_type] = {
            permission
            for operation in ("create", "update", "delete", "read")
            for permission in handlers.get(operation, {}).get("permissions", [])
        }
    return result


def test_launch_permissions_are_picked_from_the_provider_schemas():
    schemas = _schema_permissions()
    for resource_type, entries in iam.LAUNCH_PERMISSIONS.items():
        allowed = schemas[resource_type]
        if not allowed:  # no handler data published for this type (e.g. CodeBuild): hand-written
            continue
        outside = [action for action, _ in entries if action not in allowed]
        assert not outside, (
            f"launch role: {resource_type} lists {outside}, not in its provider schema's handler permissions"
        )
        assert all(reason.strip() for _, reason in entries), f"{resource_type}: every action needs a reason"


def test_launch_role_covers_every_resource_type_of_the_project_template(templates):
    project_types = {r["Type"] for r in templates["project"]["Resources"].values()}
    missing = project_types - set(iam.LAUNCH_PERMISSIONS)
    assert not missing, f"launch role cannot provision {sorted(missing)} of the project template (defect B13)"
    unused = set(iam.LAUNCH_PERMISSIONS) - project_types
    assert not unused, f"launch role keeps permissions for {sorted(unused)}, which the project never creates"


def test_launch_role_can_tag_what_it_creates():
    actions = {a for entries in iam.LAUNCH_PERMISSIONS.values() for a, _ in entries}
    for needed in ("sagemaker:AddTags", "s3:PutBucketTagging", "events:TagResource", "s3:PutBucketVersioning"):
        assert needed in actions, f"launch role lacks {needed} (defect B13)"


@pytest.mark.parametrize(
    "parameter, good, bad",
    [
        (
            "PortfolioId",
            ["port-abcdefghij123", "port-0123456789abc"],
            ["port-ABCDEFGHIJ123", "port-abc", "xport-abcdefghij123", "port-abcdefghij1234", ""],
        ),
        (
            "KmsAdministratorArn",
            ["arn:aws:iam::123456789012:role/KeyAdmins", "arn:aws-us-gov:iam::123456789012:root"],
            ["arn:aws:iam::12345678901:root", "KeyAdmins", "arn:aws:s3:::bucket", ""],
        ),
        ("SupportEmail", ["ml-platform@example.com"], ["nobody", "a@b", ""]),
        ("SupportUrl", ["https://wiki.example.com/ml"], ["http://wiki.example.com", "wiki", ""]),
        ("TemplatePrefix", ["releases/v0.1.0", "x"], ["/releases", "releases/", "a//b", ""]),
        ("TemplateBucket", ["my-templates.example"], ["My_Bucket", "ab", ""]),
    ],
)
def test_parameter_patterns(product, parameter, good, bad):
    pattern = re.compile(product["Parameters"][parameter]["AllowedPattern"])
    for value in good:
        assert pattern.fullmatch(value), f"{PRODUCT}: {parameter} refuses valid {value!r}"
    for value in bad:
        assert not pattern.fullmatch(value), f"{PRODUCT}: {parameter} accepts invalid {value!r}"


def test_every_parameter_is_labelled_and_grouped(product):
    interface = product["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = {p for group in interface["ParameterGroups"] for p in group["Parameters"]}
    assert grouped == set(product["Parameters"]), f"{PRODUCT}: parameters outside a group"
    assert set(interface["ParameterLabels"]) == set(product["Parameters"])


# Longest value each placeholder of the product template's policies can take.
_WORST_CASE = {
    "${AWS::Partition}": "aws-us-gov",
    "${AWS::Region}": "ap-southeast-2",
    "${AWS::AccountId}": "123456789012",
    "${ProjectKey.Arn}": "arn:aws-us-gov:kms:ap-southeast-2:123456789012:key/" + "k" * 36,
    "${TemplateBucket}": "b" * 63,
    "${SeedCodeKmsKeyArn}": "arn:aws-us-gov:kms:ap-southeast-2:123456789012:key/" + "k" * 36,
}
# IAM policy variables (``${aws:ResourceTag/env}``) reach IAM as written and count as written.
_POLICY_VARIABLE = re.compile(r"\$\{(aws|sagemaker|s3|kms):[^}]*\}")


def _worst_case_size(document, product) -> int:
    text = json.dumps(document, separators=(",", ":"))
    worst = dict(_WORST_CASE)
    worst["${TemplatePrefix}"] = "p" * product["Parameters"]["TemplatePrefix"]["MaxLength"]
    for placeholder, value in worst.items():
        text = text.replace(placeholder, value)
    text = re.sub(r'\{"Fn::Sub":("[^"]*")\}', r"\1", text)
    text = text.replace("${!", "${")  # Fn::Sub's escape of a policy variable
    assert "${" not in _POLICY_VARIABLE.sub("", text) and "Fn::" not in text, (
        f"unresolved placeholder left in {text[:200]}"
    )
    return len(text)


@pytest.mark.parametrize(
    "tags", [None, [{"key": f"tag{i}", "allowed_values": ["a", "b"]} for i in range(10)]], ids=["default", "ten-tags"]
)
def test_policies_fit_iam_size_limits(tags):
    """Managed policies <= 6,144 and a role's inline policies <= 10,240 characters (IAM quotas)."""
    from cfnlint.decode.decode import decode_str

    from conftest import resources_of as of
    from generator import product_template
    from generator.config import build_config
    from generator.render import to_yaml

    config = build_config({"required_tags": tags} if tags else {})
    product, _ = decode_str(to_yaml(product_template.build(config)))
    for logical_id, policy in of(product, "AWS::IAM::ManagedPolicy").items():
        size = _worst_case_size(policy["Properties"]["PolicyDocument"], product)
        assert size <= 6144, f"{PRODUCT}: {logical_id} is {size} characters, over IAM's 6,144 for a managed policy"
    inline: dict[str, int] = {}
    for policy in of(product, "AWS::IAM::RolePolicy").values():
        role = policy["Properties"]["RoleName"]["Ref"]
        inline[role] = inline.get(role, 0) + _worst_case_size(policy["Properties"]["PolicyDocument"], product)
    for role, size in inline.items():
        assert size <= 10240, f"{PRODUCT}: {role} inline policies total {size} characters, over IAM's 10,240"
    roles = of(product, "AWS::IAM::Role")
    for logical_id, role in roles.items():
        attached = role["Properties"].get("ManagedPolicyArns", [])
        assert len(attached) <= 10, (
            f"{PRODUCT}: {logical_id} attaches {len(attached)} managed policies (IAM default quota 10)"
        )


# ---- day one in a real account ---------------------------------------------------------------


def _sub_for_region(value, region: str, where: str) -> str:
    """A RoleName as CloudFormation resolves it in ``region`` (AWS::Region is its only variable)."""
    assert isinstance(value, dict) and list(value) == ["Fn::Sub"] and isinstance(value["Fn::Sub"], str), (
        f"{where}: {value!r} is not a Fn::Sub string"
    )
    resolved = value["Fn::Sub"].replace("${AWS::Region}", region)
    assert "${" not in resolved, f"{where}: {value!r} has variables beside AWS::Region"
    return resolved


def test_role_names_carry_the_region_so_two_regions_do_not_collide(product, config):
    roles = resources_of(product, "AWS::IAM::Role")
    assert len(roles) == len(naming.ROLE_PURPOSES), f"{PRODUCT}: roles {sorted(roles)}"
    per_region = {}
    for region in ("us-east-1", "eu-west-1"):
        names = {}
        for logical_id, role in roles.items():
            name = role["Properties"]["RoleName"]
            where = f"{PRODUCT}: {logical_id}.RoleName"
            assert "${AWS::Region}" in json.dumps(name), f"{where} {name!r} lacks ${{AWS::Region}} (IAM is global)"
            resolved = _sub_for_region(name, region, where)
            assert len(resolved) <= 64, f"{where} is {len(resolved)} characters in {region}, over IAM's 64"
            names[logical_id] = resolved
        assert len(set(names.values())) == len(names), f"{PRODUCT}: role names collide in {region}: {names}"
        per_region[region] = names
    shared = set(per_region["us-east-1"].values()) & set(per_region["eu-west-1"].values())
    assert not shared, f"{PRODUCT}: the product stack in us-east-1 and eu-west-1 would both create {sorted(shared)}"


def test_project_resources_run_as_the_stacks_own_roles(templates):
    """Every role a project resource names is one its own stack creates (GetAtt), never a pattern."""
    project = templates["project"]
    roles = set(resources_of(project, "AWS::IAM::Role"))
    others = {k: v for k, v in project["Resources"].items() if k not in roles}
    text = json.dumps(others)
    named = set(re.findall(r'\{"Fn::GetAtt": \["(\w+)", "Arn"\]\}', text))
    assert roles == named & roles, f"MLOps-template-example.yml: roles {sorted(roles)}, used {sorted(named & roles)}"
    assert ":role/" not in text, "MLOps-template-example.yml: a role ARN is written instead of the stack's own role"


def test_key_arn_parameter_is_retained_and_is_what_projects_resolve(product, config):
    parameter = product["Resources"].get("KeyArnParameter")
    assert parameter and parameter["Type"] == "AWS::SSM::Parameter", f"{PRODUCT}: no KeyArnParameter"
    where = f"{PRODUCT}: KeyArnParameter"
    assert parameter.get("DeletionPolicy") == "Retain", f"{where}: DeletionPolicy {parameter.get('DeletionPolicy')}"
    assert parameter.get("UpdateReplacePolicy") == "Retain", (
        f"{where}: UpdateReplacePolicy {parameter.get('UpdateReplacePolicy')}"
    )
    assert parameter["Properties"]["Name"] == naming.key_arn_parameter(config).pattern, where
    assert parameter["Properties"]["Value"] == {"Fn::GetAtt": ["ProjectKey", "Arn"]}, where


SEED_KEY_ARNS = [
    "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
]


@pytest.mark.parametrize(
    "value, accepted",
    [
        ("", True),
        *[(arn, True) for arn in SEED_KEY_ARNS],
        ("arn:aws:kms:eu-west-1:123456789012:alias/seed-code", False),  # an alias ARN
        ("alias/seed-code", False),
        ("my-templates.example", False),  # the template bucket's name
        ("arn:aws:s3:::my-templates.example", False),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", False),  # a bare key id
        (SEED_KEY_ARNS[0] + " ", False),
    ],
)
def test_seed_code_key_parameter_takes_empty_or_a_key_arn(product, value, accepted):
    parameter = product["Parameters"].get("SeedCodeKmsKeyArn")
    assert parameter, f"{PRODUCT}: no SeedCodeKmsKeyArn parameter"
    assert parameter.get("Default") == "", f"{PRODUCT}: SeedCodeKmsKeyArn must default to empty (SSE-S3)"
    matched = re.fullmatch(parameter["AllowedPattern"], value) is not None
    assert matched == accepted, f"{PRODUCT}: SeedCodeKmsKeyArn {'refuses' if accepted else 'accepts'} {value!r}"


def test_seed_code_key_is_granted_only_when_given_and_only_through_s3(product):
    conditions = product.get("Conditions", {})
    # Fn::Equals is symmetric (cfn-lint's reader may list its operands either way round).
    assert conditions.get("SeedCodeIsKmsEncrypted") in (
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "SeedCodeKmsKeyArn"}, ""]}]},
        {"Fn::Not": [{"Fn::Equals": ["", {"Ref": "SeedCodeKmsKeyArn"}]}]},
    ), f"{PRODUCT}: SeedCodeIsKmsEncrypted is {conditions.get('SeedCodeIsKmsEncrypted')}"
    policy = product["Resources"].get("LaunchRoleSeedCodeKeyPolicy")
    where = f"{PRODUCT}: LaunchRoleSeedCodeKeyPolicy"
    assert policy and policy["Type"] == "AWS::IAM::RolePolicy", f"{where} missing"
    assert policy.get("Condition") == "SeedCodeIsKmsEncrypted", f"{where}: granted without a seed code key"
    assert policy["Properties"]["RoleName"] == {"Ref": "LaunchRole"}, where
    (statement,) = _statements(policy["Properties"]["PolicyDocument"])
    assert statement["Effect"] == "Allow" and _actions(statement) == ["kms:Decrypt"], f"{where}: {statement}"
    assert statement["Resource"] in ([{"Fn::Sub": "${SeedCodeKmsKeyArn}"}], [{"Ref": "SeedCodeKmsKeyArn"}]), (
        f"{where}: resource {statement['Resource']}"
    )
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "s3.${AWS::Region}.amazonaws.com"}}
    }, f"{where}: not limited to S3 reads: {statement.get('Condition')}"
    # Nothing else names the seed code key, with or without the condition.
    for logical_id, resource in product["Resources"].items():
        if logical_id != "LaunchRoleSeedCodeKeyPolicy":
            assert "SeedCodeKmsKeyArn" not in json.dumps(resource), f"{PRODUCT}: {logical_id} names SeedCodeKmsKeyArn"


def test_launch_role_reads_only_the_published_seed_code_and_service_catalogs_copy(product):
    document = product["Resources"]["LaunchRolePolicy"]["Properties"]["PolicyDocument"]
    reads = [s for s in _statements(document) if any(a.startswith("s3:GetObject") for a in _actions(s))]
    where = f"{PRODUCT}: LaunchRolePolicy"
    by_resource = {json.dumps(s["Resource"]): s for s in reads}
    seed = by_resource.pop(
        json.dumps([{"Fn::Sub": "arn:${AWS::Partition}:s3:::${TemplateBucket}/${TemplatePrefix}/seed_code/*"}]), None
    )
    assert seed and not seed.get("Condition"), f"{where}: no read of <TemplatePrefix>/seed_code/* ({reads})"
    copy_ = by_resource.pop(json.dumps(["*"]), None)
    assert copy_ and _actions(copy_) == ["s3:GetObject"], f"{where}: Service Catalog's copy: {copy_}"
    assert copy_["Condition"] == {"StringEquals": {"s3:ExistingObjectTag/servicecatalog:provisioning": "true"}}, (
        f"{where}: s3:GetObject on * without the provisioning tag condition"
    )
    assert not by_resource, f"{where}: other S3 object reads {sorted(by_resource)}"


def test_key_policy_denies_grants_not_for_aws_resources(product):
    statements = _statements(product["Resources"]["ProjectKey"]["Properties"]["KeyPolicy"])
    where = f"{PRODUCT}: ProjectKey.KeyPolicy"
    denies = [s for s in statements if s["Effect"] == "Deny" and "kms:CreateGrant" in _actions(s)]
    assert denies, f"{where}: no Deny of kms:CreateGrant; a grant to a principal would bypass the key policy"
    (deny,) = denies
    assert deny["Principal"] in ({"AWS": "*"}, "*"), f"{where}: {deny['Sid']} does not apply to everyone"
    assert deny["Resource"] in (["*"], "*"), where
    assert deny["Condition"] == {"BoolIfExists": {"kms:GrantIsForAWSResource": "false"}}, (
        f"{where}: {deny['Sid']} condition {deny['Condition']} (must also deny when the key is absent)"
    )
    allows = [s for s in statements if s["Effect"] == "Allow" and "kms:CreateGrant" in _actions(s)]
    for allow in allows:
        assert (allow.get("Condition") or {}).get("Bool") == {"kms:GrantIsForAWSResource": "true"}, (
            f"{where}: {allow['Sid']}"
        )


def test_every_name_label_and_file_follows_the_endpoint_kind():
    """A real-time configuration ships no async names: the product file, the Studio product name
    and description, the stage description; every rendered template is free of async wording.
    The default (async) keeps the file name the console walk-through names."""
    from generator import render
    from generator.config import build_config

    realtime = build_config({"endpoint_kind": "realtime"})
    paths = {t.name: t.path for t in render.targets(realtime)}
    assert paths["product"] == "templates_out/create-realtime-endpoint-product.yaml", paths
    assert {t.name: t.path for t in render.targets(build_config())}["product"] == PRODUCT
    assert naming.product_name_default(realtime).endswith("-realtime-endpoint")
    for target, text in render.render_all(realtime).items():
        words = re.findall(r"(?i)\basync\w*|asynchronous|scales? to zero", text)
        assert not words, f"{target.path} (endpoint_kind: realtime) says {sorted(set(words))}"
    product = json.loads(json.dumps(render.target("product").build(realtime).to_dict()))
    assert "real-time inference endpoint" in product["Parameters"]["ProductDescription"]["Default"]


@pytest.mark.parametrize(
    "values",
    [{}, {"namespace": "m", "project_suffix": "a" * 23 + "-models", "source_provider": "codeconnections"}],
    ids=["default", "longest-suffix-connections"],
)
def test_the_project_role_boundary_fits_one_managed_policy(values):
    """IAM's 6,144 characters, every `${...}` at its longest, for the default and a worst case."""
    from generator import iam, sources
    from generator.config import build_config

    config = build_config(values)
    size = iam.boundary_size(config, sources.source_for(config))
    assert size <= iam.MANAGED_POLICY_MAX_CHARS, f"{PRODUCT} ({values}): ProjectRoleBoundary is {size} characters"


def test_a_region_list_that_would_overflow_the_boundary_is_refused_in_one_line():
    from generator import sources  # noqa: F401 - registers the configuration check
    from generator.config import build_config, sagemaker_regions
    from generator.errors import UserError

    with pytest.raises(UserError) as error:
        build_config({"regions": list(sagemaker_regions())})
    message = str(error.value)
    assert "permissions boundary" in message and "list only the regions" in message and "\n" not in message, message
