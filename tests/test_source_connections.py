"""``source_provider: codeconnections``: pipelines on the team's own Git repositories.

Engines: cfn-lint (AWS's schemas for every supported region, with the project rules E90xx),
checkov, moto (a CloudFormation create, EventBridge read back and its pattern matcher) and
iam-simulate (the product template's policies for this configuration).

What no engine here can check is listed in ``NOT_PROVABLE_OFFLINE`` (the README's list of what
only a real account can prove carries it).
"""

from __future__ import annotations

import copy
import functools
import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import boto3
import cfnlint
import pytest
from cfnlint.decode.decode import decode_str

from generator import buildspecs, iam, naming, render, sources, tagging, validation
from generator.config import DEFAULT_REGIONS, SourceProvider, build_config
from generator.sources import connections
from iam_project import ACCOUNT, DEFAULT, REGION, ROLE_IDS, Team, check, engine_ready
from iamsim_client import Request

NOT_PROVABLE_OFFLINE = {
    "connection handshake": "the connection is Available only after the console handshake with the Git "
    "provider; a Pending connection fails the Source action",
    "trigger delivery": "that a push to the branch reaches CodePipeline and starts exactly one execution "
    "(DetectChanges false plus a push trigger, as CodePipeline documents)",
    "which prefix is checked": "whether CodePipeline and the pipeline handler check the codeconnections or "
    "the codestar-connections action: both are granted",
    "repository access": "that the connection's app installation can read the two repositories",
    "connection from SSM": "that CloudFormation resolves an empty CodeConnectionArn to the value the product "
    "stack wrote (moto leaves {{resolve:ssm:...}} unresolved and its SSM handler fails on the map Tags the "
    "resource schema asks for); the If/Equals structure and the shared parameter name are checked here",
}

CONNECTIONS = build_config({"source_provider": "codeconnections"})
# A second organisation on connections: other names, three tags, fewer regions.
OTHER = build_config(
    {
        "source_provider": "codeconnections",
        "project_suffix": "fraud-lab",
        "namespace": "team-a",
        "required_tags": [{"key": "cost-center"}, {"key": "env", "allowed_values": ["dev", "prod"], "default": "prod"}],
        "regions": ["eu-west-1", "us-east-1"],
    }
)
CONFIGS = {"connections": CONNECTIONS, "other": OTHER}
PROJECT = "MLOps-template-example.yml (source_provider: codeconnections)"
PRODUCT = "create-async-endpoint-product.yaml (source_provider: codeconnections)"

CONNECTION_ID = "0f0e0d0c-0b0a-4909-8807-060504030201"
OTHER_ACCOUNT = "444455556666"
BRANCH = "main"


@functools.cache
def texts(key: str) -> dict[str, str]:
    return {target.name: text for target, text in render.render_all(CONFIGS[key]).items()}


def parsed(key: str, name: str) -> dict:
    template, errors = decode_str(texts(key)[name])
    assert not errors, f"{name} ({key}): does not parse: {errors}"
    return copy.deepcopy(template)


def of_type(template: dict, type_: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def connection_arn(service: str = "codeconnections", account: str = ACCOUNT, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{account}:connection/{CONNECTION_ID}"


# ---- the configuration -----------------------------------------------------------------------


def test_default_configuration_still_uses_codecommit(templates):
    assert build_config().source_provider is SourceProvider.CODECOMMIT
    types = {r["Type"] for r in templates["project"]["Resources"].values()}
    assert "AWS::CodeCommit::Repository" in types, "the default project template lost its CodeCommit repositories"
    assert "CodeConnectionArn" not in templates["project"]["Parameters"], "default template asks for a connection"
    # Byte-identical defaults are tests/test_golden.py's job; this checks the option is really off.
    assert "onnection" not in json.dumps(templates["product"]), "default product template grants connection use"


# ---- the gate: cfn-lint in every region, the project rules, checkov ----------------------------


@pytest.mark.parametrize("name", ["project", "product"])
def test_cfn_lint_and_project_rules_zero_findings_in_every_supported_region(name):
    config = CONNECTIONS
    assert config.regions == DEFAULT_REGIONS
    findings = validation.lint(name, texts("connections")[name], config)
    assert not findings, f"{name} ({', '.join(config.regions)}):\n" + "\n".join(map(str, findings))


def test_other_organisation_on_connections_passes_the_gate():
    findings = [f for name, text in texts("other").items() for f in validation.lint(name, text, OTHER)]
    assert not findings, "\n".join(map(str, findings))


def test_the_gate_inspects_the_connection_pipelines():
    """Canary: the project rules and the schemas do look at this variant's pipelines."""
    broken = parsed("connections", "project")
    pipeline = broken["Resources"]["ModelBuildPipeline"]["Properties"]
    del pipeline["ArtifactStore"]["EncryptionKey"]
    pipeline["Triggers"][0]["ProviderType"] = "GitHub"
    rules = {f.rule for f in validation.lint("project", json.dumps(broken), CONNECTIONS)}
    assert "E9011" in rules, f"project rule E9011 did not flag a pipeline without a key: {sorted(rules)}"
    assert any(r.startswith("E3") for r in rules), f"cfn-lint's schema accepted ProviderType GitHub: {sorted(rules)}"


@pytest.fixture(scope="module")
def checkov_reports(tmp_path_factory) -> tuple[list[dict], dict[str, str]]:
    from test_checkov import run_checkov  # noqa: PLC0415 - the checkov helper of test_checkov

    folder = tmp_path_factory.mktemp("connections")
    paths = []
    for name, text in texts("connections").items():
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return run_checkov(sorted(paths), folder), texts("connections")


def test_checkov_finds_nothing_and_sees_every_resource(checkov_reports):
    reports, rendered = checkov_reports
    (cloudformation,) = [r for r in reports if r["check_type"] == "cloudformation"]
    summary = cloudformation["summary"]
    expected = sum(len(decode_str(text)[0]["Resources"]) for text in rendered.values())
    assert summary["parsing_errors"] == 0 and summary["resource_count"] == expected, summary
    failed = [
        f"{Path(c['file_path']).stem}: {c['resource']} {c['check_id']} {c['check_name']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "checkov findings on the connections variant:\n" + "\n".join(sorted(failed))
    skipped = {(c["resource"], c["check_id"]) for r in reports for c in r.get("results", {}).get("skipped_checks", [])}
    assert skipped == {("AWS::S3::Bucket.ArtifactBucket", "CKV_AWS_18")}, f"skips applied: {sorted(skipped)}"


# ---- the project template ---------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_no_codecommit_anywhere_in_the_project_template(key):
    project = parsed(key, "project")
    codecommit = [k for k, r in project["Resources"].items() if r["Type"].startswith("AWS::CodeCommit::")]
    assert not codecommit, f"{PROJECT}: CodeCommit resources {codecommit}"
    text = texts(key)["project"].lower()
    assert "codecommit" not in text, f"{PROJECT}: still names CodeCommit (rule, ARN or provider)"
    # No repositories to seed: neither asked for (those parameters are gone in every variant)
    # nor resolved from the product's SSM parameters.
    for seed in ("SeedCodeBucket", "SeedCodeKeyPrefix"):
        assert seed not in project["Parameters"], f"{PROJECT}: {seed} is asked for but nothing reads it"
    config = CONFIGS[key]
    for published in (naming.seed_code_bucket_parameter(config), naming.seed_code_prefix_parameter(config)):
        assert published.ssm_reference() not in texts(key)["project"], (
            f"{PROJECT}: resolves {published.pattern} but has no repository to seed"
        )


def _pipelines(key: str) -> dict[str, dict]:
    pipelines = of_type(parsed(key, "project"), "AWS::CodePipeline::Pipeline")
    assert set(pipelines) == {"ModelBuildPipeline", "ModelDeployPipeline"}, f"{PROJECT}: {sorted(pipelines)}"
    return pipelines


REPOSITORY_OF = {"ModelBuildPipeline": "ModelBuildRepository", "ModelDeployPipeline": "ModelDeployRepository"}
# Empty CodeConnectionArn (the Studio default): the connection the product stack published in SSM.
PRODUCT_CONNECTION_UNLESS_GIVEN = {
    key: {
        "Fn::If": [
            "UseProductConnection",
            f"{{{{resolve:ssm:/{config.namespace}/{config.project_suffix}/code-connection-arn}}}}",
            {"Ref": "CodeConnectionArn"},
        ]
    }
    for key, config in CONFIGS.items()
}


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_empty_connection_parameter_selects_the_product_connection(key):
    conditions = parsed(key, "project")["Conditions"]
    assert conditions["UseProductConnection"] == {"Fn::Equals": [{"Ref": "CodeConnectionArn"}, ""]}, (
        f"{PROJECT}: UseProductConnection is {conditions.get('UseProductConnection')}"
    )
    for logical_id, pipeline in _pipelines(key).items():
        chosen = pipeline["Properties"]["Stages"][0]["Actions"][0]["Configuration"]["ConnectionArn"]
        assert isinstance(chosen, dict) and list(chosen) == ["Fn::If"], (
            f"{PROJECT}: {logical_id} ConnectionArn {chosen}"
        )
        condition, reference, typed = chosen["Fn::If"]
        assert (condition, typed) == ("UseProductConnection", {"Ref": "CodeConnectionArn"}), f"{PROJECT}: {logical_id}"
        assert reference == naming.code_connection_parameter(CONFIGS[key]).ssm_reference(), f"{PROJECT}: {logical_id}"
    product = parsed(key, "product")["Resources"]
    published = [
        k
        for k, r in product.items()
        if r["Type"] == "AWS::SSM::Parameter" and f"{{{{resolve:ssm:{r['Properties']['Name']}}}}}" == reference
    ]
    assert published == ["CodeConnectionParameter"], f"{PRODUCT}: no SSM parameter behind {reference} ({published})"


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_source_actions_read_the_connection_repository_and_branch_parameters(key):
    for logical_id, pipeline in _pipelines(key).items():
        stages = pipeline["Properties"]["Stages"]
        where = f"{PROJECT}: {logical_id}"
        assert stages[0]["Name"] == "Source", f"{where}: first stage {stages[0]['Name']}"
        (action,) = stages[0]["Actions"]
        assert action["ActionTypeId"] == {
            "Category": "Source",
            "Owner": "AWS",
            "Provider": "CodeStarSourceConnection",
            "Version": "1",
        }, f"{where}: source action type {action['ActionTypeId']}"
        assert action["Configuration"] == {
            "ConnectionArn": PRODUCT_CONNECTION_UNLESS_GIVEN[key],
            "FullRepositoryId": {"Ref": REPOSITORY_OF[logical_id]},
            "BranchName": {"Ref": "SourceBranch"},
            "DetectChanges": False,
        }, f"{where}: source configuration {action['Configuration']}"
        assert [a["Name"] for a in action["OutputArtifacts"]] == [buildspecs.SOURCE_ARTIFACT], where
        later = [a for stage in stages[1:] for a in stage["Actions"]]
        assert all(a["ActionTypeId"]["Category"] != "Source" for a in later), f"{where}: a second source"
        # No repository to wait for; the deploy pipeline's creation run lists the model group's
        # packages, so it (only) waits for the group.
        expected = ["ModelPackageGroup"] if logical_id == "ModelDeployPipeline" else None
        assert pipeline.get("DependsOn") == expected, f"{where}: depends on {pipeline.get('DependsOn')}"
        assert pipeline["Properties"]["PipelineType"] == "V2", f"{where}: triggers need a V2 pipeline"


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_triggers_start_each_pipeline_on_pushes_to_the_branch_only(key):
    for logical_id, pipeline in _pipelines(key).items():
        where = f"{PROJECT}: {logical_id}"
        source_action = pipeline["Properties"]["Stages"][0]["Actions"][0]["Name"]
        (trigger,) = pipeline["Properties"].get("Triggers", [None])
        assert trigger is not None, f"{where}: no trigger, pushes would not start it"
        assert trigger["ProviderType"] == "CodeStarSourceConnection", where
        git = trigger["GitConfiguration"]
        assert git["SourceActionName"] == source_action, f"{where}: trigger watches {git['SourceActionName']}"
        assert "PullRequest" not in git, f"{where}: pull requests would run unreviewed code"
        assert git["Push"] == [{"Branches": {"Includes": [{"Ref": "SourceBranch"}]}}], (
            f"{where}: push filter {git['Push']}"
        )


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_only_the_model_approved_rule_remains_and_it_filters_approved(key):
    config = CONFIGS[key]
    project = parsed(key, "project")
    rules = of_type(project, "AWS::Events::Rule")
    assert set(rules) == {"ModelApprovedRule"}, f"{PROJECT}: rules {sorted(rules)} (push rules must be gone)"
    rule = rules["ModelApprovedRule"]["Properties"]
    pattern = rule["EventPattern"]
    assert pattern["source"] == ["aws.sagemaker"], f"{PROJECT}: ModelApprovedRule source {pattern['source']}"
    assert pattern["detail"]["ModelApprovalStatus"] == ["Approved"], f"{PROJECT}: ModelApprovedRule statuses"
    assert pattern["detail"]["ModelPackageGroupName"] == [{"Fn::Sub": naming.PROJECT_PREFIX}], f"{PROJECT}: group"
    (target,) = rule["Targets"]
    deploy = naming.project_template_names(config)["deploy_pipeline"].pattern
    assert target["Arn"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:{deploy}"
    }


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_every_taggable_resource_is_tagged_and_every_name_is_budgeted(key):
    config = CONFIGS[key]
    project = parsed(key, "project")
    expected = {
        tagging.PROJECT_NAME_TAG: {"Ref": tagging.PROJECT_NAME_PARAM},
        tagging.PROJECT_ID_TAG: {"Ref": tagging.PROJECT_ID_PARAM},
        tagging.TEAM_TAG: tagging.team(config),
        **{t.key: {"Ref": tagging.tag_parameter_name(t.key)} for t in config.required_tags},
    }
    tagged = 0
    for logical_id, resource in project["Resources"].items():
        tags = resource.get("Properties", {}).get("Tags")
        if tags is None:
            assert resource["Type"] in ("AWS::S3::BucketPolicy",), f"{PROJECT}: {logical_id} untagged"
            continue
        tagged += 1
        assert {t["Key"]: t["Value"] for t in tags} == expected, f"{PROJECT}: {logical_id} tags"
    # Bucket, group, 4 builds and their 4 log groups, 2 pipelines, 1 rule.
    assert tagged == 18, f"{PROJECT}: {tagged} tagged resources (13 and the project's five roles)"
    budgeted = {json.dumps({"Fn::Sub": n.pattern}) for n in sources.project_names(config).values()}
    for logical_id, resource in project["Resources"].items():
        for prop in ("Name", "BucketName", "ModelPackageGroupName", "LogGroupName"):
            value = resource["Properties"].get(prop)
            if prop == "LogGroupName" and value is not None:
                assert value["Fn::Sub"].startswith("/aws/codebuild/"), f"{PROJECT}: {logical_id}.{prop}"
            elif value is not None:
                assert json.dumps(value) in budgeted, f"{PROJECT}: {logical_id}.{prop} {value} is not budgeted"
    for what, name in sources.project_names(config).items():
        assert name.fits(), f"{what}: {name.longest()!r} over {name.limit}"


def test_arns_are_partition_safe_with_no_account_or_region_written_in():
    text = texts("connections")["project"]
    assert "arn:aws:" not in text, f"{PROJECT}: hard-coded partition"
    image_accounts = set(json.loads(iam.IMAGE_ACCOUNTS_FILE.read_text())["accounts"].values())
    written = set(re.findall(r"(?<![\d{])\d{12}(?![\d}])", text)) - image_accounts
    assert not written, f"{PROJECT}: account id written in: {written}"


# ---- parameters ------------------------------------------------------------------------------


def _parameter(name: str, template: str = "project") -> dict:
    return parsed("connections", template)["Parameters"][name]


def _accepts(parameter: dict, value: str) -> bool:
    """CloudFormation's check, read leniently (search, not fullmatch): unanchored patterns fail."""
    if len(value) < parameter.get("MinLength", 0) or len(value) > parameter.get("MaxLength", 4096):
        return False
    return re.search(parameter["AllowedPattern"], value) is not None


VALID_CONNECTION_ARNS = [
    connection_arn(),
    connection_arn("codestar-connections"),
    f"arn:aws-us-gov:codeconnections:us-gov-west-1:{ACCOUNT}:connection/{CONNECTION_ID}",
    f"arn:aws-cn:codestar-connections:cn-north-1:{ACCOUNT}:connection/{CONNECTION_ID}",
]
JUNK_CONNECTION_ARNS = [
    connection_arn().replace("connection/", "host/"),
    connection_arn("codecommit"),
    connection_arn().replace(ACCOUNT, "12345"),
    connection_arn().replace(CONNECTION_ID, "abc"),
    connection_arn() + "x",
    " " + connection_arn(),
    connection_arn().upper(),
    " ",
    "none",
    f"arn:aws:codeconnections::{ACCOUNT}:connection/{CONNECTION_ID}",
    connection_arn() + "|" + connection_arn(),
]


@pytest.mark.parametrize(
    "template, good, bad",
    [
        # Project stack: empty (the Studio default) means the product stack's connection.
        ("project", ["", *VALID_CONNECTION_ARNS], JUNK_CONNECTION_ARNS),
        # Product stack: the platform team must give one; it is what every project reads.
        ("product", VALID_CONNECTION_ARNS, ["", *JUNK_CONNECTION_ARNS]),
    ],
)
def test_connection_parameter_patterns(template, good, bad):
    parameter = _parameter("CodeConnectionArn", template)
    where = PROJECT if template == "project" else PRODUCT
    for value in good:
        assert _accepts(parameter, value), f"{where}: CodeConnectionArn refuses valid {value!r}"
    for value in bad:
        assert not _accepts(parameter, value), f"{where}: CodeConnectionArn accepts invalid {value!r}"


@pytest.mark.parametrize(
    "name, good, bad",
    [
        (
            "ModelBuildRepository",
            ["acme/fraud-model-build", "Acme-Org/repo.name_2", "group/subgroup/project", "a/b"],
            [
                "",
                "fraud-model-build",
                "acme/",
                "/repo",
                "acme//repo",
                "acme/repo/",
                "acme/..",
                "../repo",
                "https://github.com/acme/repo",
                "git@github.com:acme/repo.git",
                "acme/re po",
            ],
        ),
        (
            "SourceBranch",
            ["main", "release/1.2", "feature/x_y-z", "v1.0.3"],
            [
                "",
                "-main",
                ".hidden",
                "a..b",
                "main/",
                "/main",
                "feat*",
                "ma?n",
                "[main]",
                "main.",
                "a b",
                "refs//heads",
            ],
        ),
    ],
)
def test_parameter_patterns(name, good, bad):
    parameter = _parameter(name)
    for value in good:
        assert _accepts(parameter, value), f"{PROJECT}: {name} refuses valid {value!r}"
    for value in bad:
        assert not _accepts(parameter, value), f"{PROJECT}: {name} accepts invalid {value!r}"


def test_deploy_repository_has_the_build_repository_rules():
    assert _parameter("ModelDeployRepository")["AllowedPattern"] == _parameter("ModelBuildRepository")["AllowedPattern"]


def test_branch_defaults_to_main_the_connection_to_the_product_one_and_the_repositories_are_asked_for():
    assert _parameter("SourceBranch")["Default"] == BRANCH == sources.SOURCE_BRANCH
    assert _parameter("CodeConnectionArn")["Default"] == "", f"{PROJECT}: Studio users would have to type the ARN"
    assert "Default" not in _parameter("CodeConnectionArn", "product"), f"{PRODUCT}: CodeConnectionArn has a default"
    for name in ("ModelBuildRepository", "ModelDeployRepository"):
        assert "Default" not in _parameter(name), f"{PROJECT}: {name} has a default; Studio must ask for it"


def _groups(key: str, name: str) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Parameter groups and labels, after checking every parameter has one of each."""
    template, where = parsed(key, name), PROJECT if name == "project" else PRODUCT
    interface = template["Metadata"]["AWS::CloudFormation::Interface"]
    groups = {g["Label"]["default"]: g["Parameters"] for g in interface["ParameterGroups"]}
    assert sorted(p for ps in groups.values() for p in ps) == sorted(template["Parameters"]), f"{where}: ungrouped"
    labels = {p: label["default"] for p, label in interface["ParameterLabels"].items()}
    assert set(labels) == set(template["Parameters"]), f"{where}: unlabelled parameters"
    assert all(label.strip() for label in labels.values()), f"{where}: empty labels {labels}"
    return groups, labels


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_parameters_are_grouped_and_labelled(key):
    groups, _ = _groups(key, "project")
    assert groups[connections.GROUP_GIT] == [
        "CodeConnectionArn",
        "ModelBuildRepository",
        "ModelDeployRepository",
        "SourceBranch",
    ], f"{PROJECT}: Git group {groups.get(connections.GROUP_GIT)}"


# ---- the product stack publishes the connection --------------------------------------------


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_product_asks_for_the_connection_grouped_and_labelled(key):
    groups, labels = _groups(key, "product")
    assert groups.get(connections.GROUP_GIT) == ["CodeConnectionArn"], f"{PRODUCT}: groups {groups}"
    assert "ARN" in labels["CodeConnectionArn"], f"{PRODUCT}: CodeConnectionArn label {labels['CodeConnectionArn']!r}"


@pytest.mark.parametrize("key", sorted(CONFIGS))
def test_product_publishes_the_connection_where_the_project_reads_it(key):
    config = CONFIGS[key]
    parameters = of_type(parsed(key, "product"), "AWS::SSM::Parameter")
    assert "CodeConnectionParameter" in parameters, f"{PRODUCT}: SSM parameters {sorted(parameters)}"
    properties = parameters["CodeConnectionParameter"]["Properties"]
    where = f"{PRODUCT}: CodeConnectionParameter"
    assert properties["Name"] == f"/{config.namespace}/{config.project_suffix}/code-connection-arn", where
    assert properties["Name"] == naming.code_connection_parameter(config).pattern, where
    assert properties["Value"] == {"Ref": "CodeConnectionArn"}, f"{where}: value {properties['Value']}"
    assert properties["Type"] == "String", where
    assert naming.code_connection_parameter(config) in sources.product_names(config), "connection name not budgeted"


def test_default_product_neither_asks_for_nor_publishes_a_connection(templates):
    assert naming.code_connection_parameter(build_config()) not in sources.product_names(build_config())
    names = [r["Properties"]["Name"] for r in of_type(templates["product"], "AWS::SSM::Parameter").values()]
    assert not any(n.endswith("code-connection-arn") for n in names), f"default product template publishes {names}"


# ---- a real create on moto -------------------------------------------------------------------

MOTO_REGION = "eu-west-1"
PROJECT_NAME = "fraud-custom-project"
PROJECT_ID = "p-abcdef123456"


@pytest.fixture(scope="module")
def deployed():
    from moto import mock_aws

    with warnings.catch_warnings(), mock_aws():
        warnings.simplefilter("ignore", UserWarning)  # moto skips CodeBuild/CodePipeline with a warning
        from test_project_template import resolve_ssm_references  # noqa: PLC0415

        key_arn = boto3.client("kms", region_name=MOTO_REGION).create_key()["KeyMetadata"]["Arn"]
        cfn = boto3.client("cloudformation", region_name=MOTO_REGION)
        account = boto3.client("sts", region_name=MOTO_REGION).get_caller_identity()["Account"]
        # The product stack's SSM parameters, read where CloudFormation would read them (moto's
        # CloudFormation leaves {{resolve:ssm:...}} alone). CodeConnectionArn stays empty, as
        # Studio suggests; moto skips CodePipeline, the only reader of the connection.
        ssm = boto3.client("ssm", region_name=MOTO_REGION)
        for parameter, value in (
            (naming.key_arn_parameter(CONNECTIONS), key_arn),
            (naming.code_connection_parameter(CONNECTIONS), connection_arn(account=account, region=MOTO_REGION)),
        ):
            ssm.put_parameter(Name=parameter.pattern, Value=value, Type="String")
        cfn.create_stack(
            StackName="project-stack",
            TemplateBody=resolve_ssm_references(texts("connections")["project"], ssm),
            Parameters=[
                {"ParameterKey": "SageMakerProjectName", "ParameterValue": PROJECT_NAME},
                {"ParameterKey": "SageMakerProjectId", "ParameterValue": PROJECT_ID},
                {"ParameterKey": "ModelBuildRepository", "ParameterValue": "acme/fraud-model-build"},
                {"ParameterKey": "ModelDeployRepository", "ParameterValue": "acme/fraud-model-deploy"},
                {"ParameterKey": "TagProject", "ParameterValue": "fraud"},
            ],
        )
        stack = cfn.describe_stacks(StackName="project-stack")["Stacks"][0]
        events = boto3.client("events", region_name=MOTO_REGION)
        rules = {r["Name"]: json.loads(r["EventPattern"]) for r in events.list_rules()["Rules"]}
        yield {
            "status": stack["StackStatus"],
            "reason": stack.get("StackStatusReason"),
            "rules": rules,
            "account": account,
        }


def test_moto_creates_the_stack_with_only_the_approved_rule(deployed):
    from moto.events.models import EventPattern  # moto's implementation of EventBridge matching

    assert deployed["status"] == "CREATE_COMPLETE", f"{PROJECT} on moto: {deployed['reason']}"
    prefix = f"{PROJECT_NAME}-{PROJECT_ID}"
    assert set(deployed["rules"]) == {f"{prefix}-model-approved"}, (
        f"{PROJECT} on moto: rules {sorted(deployed['rules'])}"
    )
    approved = EventPattern.load(json.dumps(deployed["rules"][f"{prefix}-model-approved"]))

    def event(status: str, group: str = prefix) -> dict:
        return {
            "version": "0",
            "id": "1",
            "source": "aws.sagemaker",
            "detail-type": "SageMaker Model Package State Change",
            "account": deployed["account"],
            "time": "2026-01-01T00:00:00Z",
            "region": MOTO_REGION,
            "resources": [],
            "detail": {"ModelPackageGroupName": group, "ModelApprovalStatus": status},
        }

    assert approved.matches_event(event("Approved")), "an approved model must start the deploy pipeline"
    for status in ("PendingManualApproval", "Rejected"):
        assert not approved.matches_event(event(status)), f"{status} must not deploy (B8)"
    assert not approved.matches_event(event("Approved", "other-custom-project-p-000000000000"))


# ---- IAM, simulated --------------------------------------------------------------------------

needs_engine = pytest.mark.skipif(engine_ready() is not None, reason=str(engine_ready()))


@dataclass(frozen=True)
class ConnectionsTeam(Team):
    """The sample team on connections: the product stack is given the connection, Studio the repositories."""

    connection: str = ""  # what the Studio user typed: nothing, as the form suggests

    @property
    def product_parameters(self) -> dict[str, str]:
        return {**super().product_parameters, "CodeConnectionArn": connection_arn()}

    @property
    def project_parameters(self) -> dict[str, str]:
        values = {k: v for k, v in super().project_parameters.items() if not k.startswith("SeedCode")}
        values.update(
            {
                "CodeConnectionArn": self.connection,
                "ModelBuildRepository": "acme/fraud-model-build",
                "ModelDeployRepository": "acme/fraud-model-deploy",
                "SourceBranch": BRANCH,
            }
        )
        return values

    def project_resolve_kwargs(self, region: str = REGION) -> dict:
        kwargs = super().project_resolve_kwargs(region)
        # The condition comes from the template's own Fn::Equals on the value typed, and the SSM
        # parameter holds what the product template's CodeConnectionParameter writes.
        from iamsim_client import resolve_intrinsics  # noqa: PLC0415

        project, product = self.template("project"), self.product
        condition = project["Conditions"]["UseProductConnection"]
        kwargs["conditions"] = {
            **kwargs["conditions"],
            "UseProductConnection": resolve_intrinsics(
                condition, where=f"{PROJECT}: UseProductConnection", parameters=self.project_parameters
            ),
        }
        published = resolve_intrinsics(
            product["Resources"]["CodeConnectionParameter"]["Properties"],
            where=f"{PRODUCT}: CodeConnectionParameter",
            parameters=self.product_parameters,
        )
        kwargs["dynamic_refs"] = {**kwargs["dynamic_refs"], f"ssm:{published['Name']}": published["Value"]}
        return kwargs


TEAM = ConnectionsTeam(CONNECTIONS)
# A Studio user who does type an ARN (another connection of the account) gets that one.
TYPED_CONNECTION = connection_arn().replace(CONNECTION_ID, "11111111-2222-4333-8444-555555555555")


@pytest.mark.parametrize(
    "team, expected",
    [(TEAM, connection_arn()), (ConnectionsTeam(CONNECTIONS, connection=TYPED_CONNECTION), TYPED_CONNECTION)],
    ids=["empty: the product's connection", "typed: that connection"],
)
def test_sample_team_resolves_the_source_actions(team, expected):
    from iamsim_client import resolve_intrinsics  # noqa: PLC0415

    project = team.template("project")
    for logical_id in REPOSITORY_OF:
        stage = project["Resources"][logical_id]["Properties"]["Stages"][0]
        configuration = resolve_intrinsics(
            stage["Actions"][0]["Configuration"], where=f"{PROJECT}: {logical_id}", **team.project_resolve_kwargs()
        )
        assert configuration["ConnectionArn"] == expected, (
            f"{PROJECT}: {logical_id} reads {configuration['ConnectionArn']}"
        )
        assert configuration["BranchName"] == BRANCH, logical_id


@needs_engine
def test_launch_role_may_read_the_published_connection_and_nothing_beside_it():
    parameter = naming.code_connection_parameter(CONNECTIONS).pattern
    arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{parameter}"
    other_team = arn.replace(f"/{CONNECTIONS.namespace}/", "/other-team/")
    check(
        [
            (
                TEAM.case("launch", Request("ssm:GetParameters", arn), "LaunchRole resolves the published connection"),
                "Allowed",
            ),
            (
                TEAM.case(
                    "launch", Request("ssm:GetParameters", other_team), "LaunchRole reads another team's connection"
                ),
                "ImplicitlyDenied",
            ),
            (
                TEAM.case("launch", Request("ssm:PutParameter", arn), "LaunchRole rewrites the published connection"),
                "ImplicitlyDenied",
            ),
        ]
    )


@needs_engine
@pytest.mark.parametrize(
    "purpose, granted, refused, codecommit_actions",
    [
        # The pipelines fetch their source through the connection.
        (
            "codepipeline",
            "UseConnection",
            "PassConnection",
            ("codecommit:GetBranch", "codecommit:UploadArchive", "codecommit:GitPull"),
        ),
        # The pipeline handler hands the connection to the pipeline it creates.
        (
            "launch",
            "PassConnection",
            "UseConnection",
            ("codecommit:CreateRepository", "codecommit:CreateCommit", "codecommit:TagResource"),
        ),
    ],
)
def test_roles_use_connections_of_this_account_and_region_only_and_no_codecommit(
    purpose, granted, refused, codecommit_actions
):
    role = ROLE_IDS[purpose]
    cases = []
    for service in ("codeconnections", "codestar-connections"):
        action = f"{service}:{granted}"
        cases += [
            (
                TEAM.case(purpose, Request(action, connection_arn(service)), f"{role} this account's connection"),
                "Allowed",
            ),
            # Cross-account evaluation denies this even under a wildcard account (no resource
            # policy on a connection): the other-region case is the one that pins the scope.
            (
                TEAM.case(
                    purpose,
                    Request(action, connection_arn(service, account=OTHER_ACCOUNT)),
                    f"{role} another account's connection",
                ),
                "ImplicitlyDenied",
            ),
            (
                TEAM.case(
                    purpose,
                    Request(action, connection_arn(service, region="eu-west-1")),
                    f"{role} a connection of another region",
                ),
                "ImplicitlyDenied",
            ),
            (
                TEAM.case(
                    purpose,
                    Request(f"{service}:{refused}", connection_arn(service)),
                    f"{role} {refused}, which it does not need",
                ),
                "ImplicitlyDenied",
            ),
            # With the option off the role has no business with connections.
            (
                DEFAULT.case(purpose, Request(action, connection_arn(service)), f"{role} (codecommit config)"),
                "ImplicitlyDenied",
            ),
        ]
    repository = TEAM.arn("codecommit", f"{TEAM.prefix}-model-build")
    cases += [
        (TEAM.case(purpose, Request(a, repository), f"{role} CodeCommit without CodeCommit"), "ImplicitlyDenied")
        for a in codecommit_actions
    ]
    cases.append(
        (
            TEAM.case(purpose, Request("codecommit:ListRepositories", "*"), f"{role} listing repositories"),
            "ImplicitlyDenied",
        )
    )
    check(cases)


@needs_engine
def test_launch_role_can_provision_every_resource_of_the_connections_project():
    from test_iam_least_privilege import launch_context, project_resource_arns  # noqa: PLC0415 - shared helpers

    arns = project_resource_arns(TEAM)
    table = iam.launch_permissions(CONNECTIONS, sources.source_for(CONNECTIONS))
    assert set(arns) == set(table), (
        f"launch role types {sorted(table)} != project resource types {sorted(arns)} ({PROJECT})"
    )
    pipeline_role = TEAM.role_arn("codepipeline")
    cases = []
    for resource_type, entries in table.items():
        for logical_id, arn in arns[resource_type]:
            for action, reason in entries:
                if action in iam.UNSCOPED_LAUNCH_ACTIONS:
                    target = "*"
                elif action in iam.FOREIGN_LAUNCH_ACTIONS:
                    target = pipeline_role
                else:
                    target = arn
                cases.append(
                    (
                        TEAM.case(
                            "launch",
                            Request(action, target, context=launch_context(action, TEAM)),
                            f"LaunchRole {logical_id} ({reason})",
                        ),
                        "Allowed",
                    )
                )
    check(cases)


@needs_engine
def test_roles_do_nothing_else_with_connections():
    """Sweep every action IAM knows on a connection: UseConnection for the pipeline, PassConnection for launch."""
    from test_iam_least_privilege import sweep  # noqa: PLC0415 - the action-catalogue sweep

    for purpose, verb in (("codepipeline", "UseConnection"), ("launch", "PassConnection")):
        arns = {connection_arn(s): {f"{s}:{verb}"} for s in ("codeconnections", "codestar-connections")}
        allowed = sweep(functools.partial(TEAM.case, purpose), ROLE_IDS[purpose], arns)
        assert allowed == arns, f"{ROLE_IDS[purpose]} on connections: allows {allowed}, expected {arns}"
    for purpose in ("codebuild", "events", "cloudformation", "sagemaker"):
        nothing = {connection_arn(s): set() for s in ("codeconnections", "codestar-connections")}
        allowed = sweep(functools.partial(TEAM.case, purpose), ROLE_IDS[purpose], nothing)
        assert allowed == nothing, f"{ROLE_IDS[purpose]} can act on connections: {allowed}"


def test_pass_connection_is_what_the_pipeline_provider_schema_lists():
    base = Path(cfnlint.__file__).parent / "data" / "schemas"
    providers = json.loads((base / "providers" / "us-east-1.json").read_text())
    schema = json.loads((base / "resources" / f"{providers['AWS::CodePipeline::Pipeline']}.json").read_text())
    listed = {p for handler in schema["handlers"].values() for p in handler.get("permissions", [])}
    in_schema = [a for a in iam.CONNECTION_LAUNCH_ACTIONS if a in listed]
    assert in_schema == ["codestar-connections:PassConnection"], (
        f"AWS::CodePipeline::Pipeline handler permissions name {sorted(a for a in listed if 'onnection' in a)}"
    )
    renamed = {a.replace("codestar-connections:", "codeconnections:") for a in in_schema}
    assert renamed <= set(iam.CONNECTION_LAUNCH_ACTIONS), "the current-prefix twin is missing"
    assert all(reason.strip() for reason in iam.CONNECTION_LAUNCH_ACTIONS.values())


def test_codecommit_statements_follow_the_option():
    def sids(config) -> dict[str, set[str]]:
        return {
            purpose: {
                s.Sid
                for s in iam.runtime_policy(
                    iam.Scope(config, one_project=True), purpose, "key", sources.source_for(config)
                ).Statement
            }
            for purpose in ("codepipeline",)
        } | {"launch": {s.Sid for s in iam.launch_policy(config, "bucket", sources.source_for(config)).Statement}}

    on, off = sids(CONNECTIONS), sids(build_config())
    assert "AllowReadingProjectRepositories" in off["codepipeline"]
    assert "AllowReadingProjectRepositories" not in on["codepipeline"], "CodePipeline role keeps CodeCommit reads"
    assert "AllowProvisioningCodeCommitRepository" in off["launch"]
    assert "AllowProvisioningCodeCommitRepository" not in on["launch"], "launch role keeps CodeCommit creates"
    product = json.dumps(parsed("connections", "product"))
    assert "codecommit:" not in product, f"{PRODUCT}: grants a CodeCommit action"


# ---- the command line -------------------------------------------------------------------------


def _cli_build(tmp_path: Path, config_text: str):
    from click.testing import CliRunner  # noqa: PLC0415

    import cli  # noqa: PLC0415

    config = tmp_path / "org.yaml"
    config.write_text(config_text)
    return CliRunner().invoke(cli.main, ["--config", str(config), "build", "--output-dir", str(tmp_path / "out")])


def test_cli_builds_the_connections_variant_through_the_gate(tmp_path):
    result = _cli_build(tmp_path, "source_provider: codeconnections\n")
    assert result.exit_code == 0, result.output
    written = (tmp_path / "out" / "templates_out" / "MLOps-template-example.yml").read_text()
    assert written == texts("connections")["project"], (
        "the CLI wrote another project template than the generator builds"
    )


def test_cli_refuses_an_unknown_provider_in_one_line(tmp_path):
    result = _cli_build(tmp_path, "source_provider: bitbucket\n")
    assert result.exit_code == 2, result.output
    (line,) = result.output.strip().splitlines()
    assert "source_provider" in line and "codecommit, codeconnections" in line, line
    assert not (tmp_path / "out").exists(), "a refused configuration wrote files"
