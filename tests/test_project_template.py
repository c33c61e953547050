"""The SageMaker project template (MLOps-template-example.yml).

Engines: cfn-lint (AWS's resource schemas, every supported region, through the project's gate),
cfn-lint's bundled resource schemas (which types are taggable), botocore's SageMaker service
model (SageMaker's own project-name rule), and moto (a real CloudFormation create, then S3 and
EventBridge read back through their APIs, and moto's EventBridge pattern matcher). The deploy
build's and the deploy gate's inline buildspecs run in bash, as CodeBuild runs them (one after
the other, in separate directories: the gate on a copy of the deploy build's artifact), with the
real AWS CLI and the seed build.py against a moto server (``ThreadedMotoServer``); only the
deploy build's ``pip install -r requirements.txt`` is left out (the test environment has the
requirements).

What moto cannot check is listed in ``MOTO_CANNOT_CHECK``; cfn-lint's schemas are the evidence
for those resources.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import boto3
import botocore.session
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import buildspecs, encryption, iam, naming, project_template, render, sources, tagging, validation
from generator.config import Config, build_config

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "MLOps-template-example.yml"

DEFAULT = build_config()
# A second organisation: other suffix and namespace, three required tags (one without a
# default), a real-time endpoint, fewer regions.
OTHER = build_config(
    {
        "project_suffix": "fraud-lab",
        "namespace": "team-a",
        "required_tags": [
            {"key": "cost-center"},
            {"key": "owner", "default": "ml-platform"},
            {"key": "env", "allowed_values": ["dev", "prod"], "default": "prod"},
        ],
        "endpoint_kind": "realtime",
        "regions": ["eu-west-1", "us-east-1"],
    }
)
CONFIGS = {"default": DEFAULT, "other": OTHER}


def _longest_config() -> Config:
    """The longest namespace, with the longest suffix the configuration still accepts."""
    for length in range(30, 0, -1):
        try:
            return build_config({"namespace": "n" * 20, "project_suffix": "s" * length})
        except Exception:  # noqa: BLE001 - the config refuses names that overflow; try shorter
            continue
    raise AssertionError("no suffix length accepted with a 20-character namespace")


LONGEST = _longest_config()


@cache
def _doc(key: str) -> dict:
    config = LONGEST if key == "longest" else CONFIGS[key]
    return json.loads(json.dumps(project_template.build(config).to_dict()))


def doc(config_key: str = "default") -> dict:
    return copy.deepcopy(_doc(config_key))


def resources(d: dict, type_: str) -> dict[str, dict]:
    found = {k: v for k, v in d["Resources"].items() if v["Type"] == type_}
    assert found, f"{TEMPLATE}: no {type_} resource"
    return found


def ssm_ref(parameter: naming.DerivedName) -> str:
    """A CloudFormation dynamic reference to the SSM parameter the product stack writes."""
    return "{{resolve:ssm:" + parameter.pattern + "}}"


def key_expr(config: Config) -> str:
    """The project key: always the product stack's key, read from its SSM parameter."""
    expected = ssm_ref(naming.key_arn_parameter(config))
    assert encryption.project_key_arn(config) == expected, f"{TEMPLATE}: project key is not {expected}"
    return expected


def role(config: Config, purpose: str) -> dict:
    """The stack's own role for ``purpose`` (project_roles): its ARN by GetAtt."""
    from generator.project_roles import ROLE_TITLES

    return {"Fn::GetAtt": [ROLE_TITLES[purpose], "Arn"]}


def sub(name: naming.DerivedName) -> dict:
    return {"Fn::Sub": name.pattern}


# ---- the gate ------------------------------------------------------------------------------


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_cfn_lint_zero_findings_in_every_supported_region(config_key):
    config = CONFIGS[config_key]
    target = next(t for t in render.TARGETS if t.name == "project")
    text = render.render(target, config)
    findings = validation.lint(TEMPLATE, text, config)
    assert not findings, f"cfn-lint ({', '.join(config.regions)}):\n" + "\n".join(map(str, findings))


# ---- tags ----------------------------------------------------------------------------------


@cache
def _resource_schema(type_: str) -> dict:
    import cfnlint

    base = Path(cfnlint.__file__).resolve().parent / "data" / "schemas"
    providers = json.loads((base / "providers" / "us-east-1.json").read_text())
    return json.loads((base / "resources" / f"{providers[type_]}.json").read_text())


def _taggable(type_: str) -> bool:
    schema = _resource_schema(type_)
    tagging_info = schema.get("tagging")
    if tagging_info is not None:
        return bool(tagging_info.get("taggable"))
    return "Tags" in schema.get("properties", {})


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_every_taggable_resource_carries_project_and_required_tags(config_key):
    config = CONFIGS[config_key]
    d = doc(config_key)
    expected = {
        tagging.PROJECT_NAME_TAG: {"Ref": tagging.PROJECT_NAME_PARAM},
        tagging.PROJECT_ID_TAG: {"Ref": tagging.PROJECT_ID_PARAM},
        tagging.TEAM_TAG: tagging.team(config),
        **{t.key: {"Ref": tagging.tag_parameter_name(t.key)} for t in config.required_tags},
    }
    checked = []
    for logical_id, resource in d["Resources"].items():
        if not _taggable(resource["Type"]):
            continue
        checked.append(logical_id)
        tags = resource.get("Properties", {}).get("Tags")
        assert isinstance(tags, list), f"{TEMPLATE}: {logical_id} ({resource['Type']}) has no Tags list"
        got = {tag.get("Key"): tag.get("Value") for tag in tags}
        assert got == expected, f"{TEMPLATE}: {logical_id} tags {got} != {expected}"
    # Bucket, group, 2 repositories, 4 builds and their 4 log groups, 2 pipelines, 3 rules.
    # 17 resources and the project's five roles.
    assert len(checked) == 22, f"{TEMPLATE}: taggable resources {sorted(checked)}"


# ---- storage -------------------------------------------------------------------------------


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_artifact_bucket_is_encrypted_versioned_private_and_retained(config_key):
    config = CONFIGS[config_key]
    for logical_id, bucket in resources(doc(config_key), "AWS::S3::Bucket").items():
        p = bucket["Properties"]
        where = f"{TEMPLATE}: {logical_id}"
        rules = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert len(rules) == 1, where
        default = rules[0]["ServerSideEncryptionByDefault"]
        assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_expr(config)}, where
        assert rules[0].get("BucketKeyEnabled") is True, f"{where}: bucket key off"
        assert p.get("VersioningConfiguration") == {"Status": "Enabled"}, f"{where}: versioning off"
        block = p.get("PublicAccessBlockConfiguration", {})
        for setting in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"):
            assert block.get(setting) is True, f"{where}: {setting} not true"
        assert p["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}, where
        assert bucket.get("DeletionPolicy") == "Retain", where
        assert bucket.get("UpdateReplacePolicy") == "Retain", where
        assert p["BucketName"] == sub(naming.artifact_bucket(config)), where


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_bucket_policy_denies_plain_http_and_other_keys(config_key):
    config = CONFIGS[config_key]
    d = doc(config_key)
    policies = resources(d, "AWS::S3::BucketPolicy")
    covered = {p["Properties"]["Bucket"]["Ref"] for p in policies.values()}
    assert covered == set(resources(d, "AWS::S3::Bucket")), f"{TEMPLATE}: buckets without a policy"
    for logical_id, policy in policies.items():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        by_sid = {s["Sid"]: s for s in statements}
        where = f"{TEMPLATE}: {logical_id}"
        tls = by_sid.get("DenyInsecureTransport")
        assert tls and tls["Effect"] == "Deny", f"{where}: no TLS-only deny"
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, where
        other_key = by_sid.get("DenyUploadsWithAnotherKey")
        assert other_key and other_key["Effect"] == "Deny", f"{where}: no deny for other keys"
        # Only a header that is present and names another key is refused (the bucket default
        # encrypts uploads without one under the same key).
        assert other_key["Condition"]["Null"] == {"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}, where
        cond = other_key["Condition"]["StringNotEquals"]
        assert cond["s3:x-amz-server-side-encryption-aws-kms-key-id"] == key_expr(config), where
        team = by_sid.get("DenyPrincipalsOutsideTheTeam")
        assert team and team["Effect"] == "Deny" and team["Principal"] == "*", (
            f"{where}: no deny for principals outside the team"
        )
        assert team["Condition"]["StringNotEquals"] == {f"aws:PrincipalTag/{tagging.TEAM_TAG}": tagging.team(config)}, (
            where
        )


def test_model_package_group_is_the_project_prefix():
    for logical_id, group in resources(doc(), "AWS::SageMaker::ModelPackageGroup").items():
        assert group["Properties"]["ModelPackageGroupName"] == sub(naming.project_prefix()), logical_id


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_repositories_are_seeded_from_the_published_zips(config_key):
    config = CONFIGS[config_key]
    d = doc(config_key)
    keys = []
    for logical_id, repo in resources(d, "AWS::CodeCommit::Repository").items():
        code = repo["Properties"]["Code"]
        where = f"{TEMPLATE}: {logical_id}"
        assert code["BranchName"] == sources.SOURCE_BRANCH, where
        # Always the product's published copy: no parameter can point the seed elsewhere.
        assert code["S3"]["Bucket"] == ssm_ref(naming.seed_code_bucket_parameter(config)), where
        key_template, variables = code["S3"]["Key"]["Fn::Sub"]
        assert variables == {"Prefix": ssm_ref(naming.seed_code_prefix_parameter(config))}, where
        keys.append(key_template)
    assert sorted(keys) == sorted(f"${{Prefix}}/{k}" for k in naming.SEED_CODE_KEYS.values())
    # Nothing read from AWS-owned buckets (B3/B4).
    text = json.dumps(d)
    assert "sagemaker-servicecatalog-seedcode" not in text and "us-east-1" not in text


# ---- builds --------------------------------------------------------------------------------


def _contract() -> dict[str, set[str]]:
    """Variables per build, from the table in docs/architecture.md (the seed code's contract)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    table = text.split("| variable | set on | meaning |", 1)[1]
    per_build = {
        "ModelBuildProject": set(),
        "ModelDeployBuildProject": set(),
        "ModelDeployGateProject": set(),
        "ModelDeployTestProject": set(),
    }
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        names = re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[0])
        set_on = cells[1]
        if "CodeBuild sets it" in set_on:
            continue
        targets = {
            "all builds": list(per_build),
            "model build": ["ModelBuildProject"],
            "deploy build": ["ModelDeployBuildProject"],
            "deploy gate": ["ModelDeployGateProject"],
        }.get(set_on)
        assert targets is not None, f"docs/architecture.md: unknown 'set on' value {set_on!r}"
        for target in targets:
            per_build[target].update(names)
    return per_build


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_codebuild_projects_use_the_key_a_current_image_and_the_env_contract(config_key):
    config = CONFIGS[config_key]
    projects = resources(doc(config_key), "AWS::CodeBuild::Project")
    contract = _contract()
    assert set(projects) == set(contract), f"{TEMPLATE}: CodeBuild projects {sorted(projects)}"
    for logical_id, project in projects.items():
        p = project["Properties"]
        where = f"{TEMPLATE}: {logical_id}"
        assert p["EncryptionKey"] == key_expr(config), f"{where}: EncryptionKey is not the customer key"
        image = p["Environment"]["Image"]
        match = re.fullmatch(r"aws/codebuild/amazonlinux-(x86_64|aarch64)-standard:(\d+)\.(\d+)", image)
        assert match and (int(match[2]), int(match[3])) >= (5, 0), f"{where}: image {image} older than AL standard 5.0"
        assert p["ServiceRole"] == role(config, "codebuild"), where
        assert p["LogsConfig"]["CloudWatchLogs"]["Status"] == "ENABLED", where
        env = {v["Name"]: v["Value"] for v in p["Environment"]["EnvironmentVariables"]}
        assert set(env) == contract[logical_id], (
            f"{where}: env {sorted(env)} != contract {sorted(contract[logical_id])}"
        )
        assert env["SAGEMAKER_PROJECT_ARN"] == {
            "Fn::Sub": "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:"
            "project/${SageMakerProjectName}"
        }, where
        assert env["KMS_KEY_ARN"] == key_expr(config), where
        assert env["ARTIFACT_BUCKET"] == {"Ref": "ArtifactBucket"}, where
        assert env["MODEL_PACKAGE_GROUP_NAME"] == sub(naming.project_prefix()), where
        required = env["REQUIRED_TAGS"]["Fn::Sub"]
        for tag in config.required_tags:
            assert f'"{tag.key}": "${{{tag_param(tag.key)}}}"' in required, f"{where}: REQUIRED_TAGS lacks {tag.key}"
        for name in ("SAGEMAKER_PIPELINE_ROLE_ARN", "SAGEMAKER_EXECUTION_ROLE_ARN"):
            if name in env:
                assert env[name] == role(config, "sagemaker"), where
        if "ENDPOINT_KIND" in env:
            assert env["ENDPOINT_KIND"] == config.endpoint_kind.value, where


def tag_param(key: str) -> str:
    return tagging.tag_parameter_name(key)


# ---- pipelines -----------------------------------------------------------------------------


def _actions(pipeline: dict) -> list[tuple[str, dict]]:
    return [(stage["Name"], a) for stage in pipeline["Properties"]["Stages"] for a in stage["Actions"]]


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_pipelines_stage_order_keys_roles_and_sources(config_key):
    config = CONFIGS[config_key]
    d = doc(config_key)
    pipelines = resources(d, "AWS::CodePipeline::Pipeline")
    expected_stages = {
        "ModelBuildPipeline": list(project_template.BUILD_STAGES),
        "ModelDeployPipeline": list(project_template.DEPLOY_STAGES),
    }
    assert set(pipelines) == set(expected_stages), f"{TEMPLATE}: pipelines {sorted(pipelines)}"
    repo_names = {k: v["Properties"]["RepositoryName"] for k, v in resources(d, "AWS::CodeCommit::Repository").items()}
    builds = set(resources(d, "AWS::CodeBuild::Project"))
    for logical_id, pipeline in pipelines.items():
        p = pipeline["Properties"]
        where = f"{TEMPLATE}: {logical_id}"
        assert [s["Name"] for s in p["Stages"]] == expected_stages[logical_id], f"{where}: stage order"
        assert p["PipelineType"] == "V2", where
        assert p["RoleArn"] == role(config, "codepipeline"), where
        store = p["ArtifactStore"]
        assert store["Location"] == {"Ref": "ArtifactBucket"}, where
        assert store["EncryptionKey"] == {"Id": key_expr(config), "Type": "KMS"}, f"{where}: artifact store key"
        for stage, action in _actions(pipeline):
            kind = action["ActionTypeId"]
            at = f"{where} {stage}/{action['Name']}"
            if kind["Provider"] == "CodeCommit":
                assert action["Configuration"]["PollForSourceChanges"] is False, at
                assert action["Configuration"]["BranchName"] == "main", at
                assert action["Configuration"]["RepositoryName"] in repo_names.values(), at
                assert pipeline.get("DependsOn"), f"{at}: pipeline may be created before its repository"
            elif kind["Provider"] == "CodeBuild":
                assert action["Configuration"]["ProjectName"]["Ref"] in builds, at
            elif kind["Provider"] == "CloudFormation":
                c = action["Configuration"]
                assert c["ActionMode"] == "CREATE_UPDATE", at
                assert c["RoleArn"] == role(config, "cloudformation"), at
                # The endpoint template the gate checked is the platform's, deployed as it is.
                assert c["TemplatePath"] == "BuildArtifact::endpoint-config-template.yml", at
                stage_name = "staging" if stage == "DeployStaging" else "prod"
                assert c["TemplateConfiguration"] == f"BuildArtifact::{stage_name}-config-export.json", at
                assert c["StackName"] == sub(naming.deploy_stack(stage_name)), at
            elif kind["Provider"] == "Manual":
                assert stage == "ApproveDeployment", at
            else:
                pytest.fail(f"{at}: unexpected provider {kind['Provider']}")
    # Until a model is approved (the pipeline's creation run) every stage after Build is
    # skipped on the deploy gate's exported MODEL_APPROVED, not failed.
    deploy_stages = pipelines["ModelDeployPipeline"]["Properties"]["Stages"]
    namespaces = [a.get("Namespace") for a in deploy_stages[1]["Actions"]]
    assert namespaces == [None, buildspecs.DEPLOY_BUILD_NAMESPACE], namespaces
    for stage in deploy_stages[2:]:
        (condition,) = stage["BeforeEntry"]["Conditions"]
        (rule,) = condition["Rules"]
        at = f"{TEMPLATE}: ModelDeployPipeline {stage['Name']}"
        assert condition["Result"] == "SKIP", at
        assert rule["RuleTypeId"]["Provider"] == "VariableCheck", at
        assert rule["Configuration"] == {
            "Variable": "#{DeployBuild.MODEL_APPROVED}",
            "Value": "true",
            "Operator": "EQ",
        }, at
    for stage in deploy_stages[:2] + pipelines["ModelBuildPipeline"]["Properties"]["Stages"]:
        assert "BeforeEntry" not in stage, f"{TEMPLATE}: {stage['Name']} must always run"
    deploy = dict(_actions(pipelines["ModelDeployPipeline"]))
    assert deploy["TestStaging"]["Configuration"]["ProjectName"] == {"Ref": "ModelDeployTestProject"}
    assert [a["Name"] for a in deploy["TestStaging"]["InputArtifacts"]] == ["BuildArtifact", "StagingOutputs"]
    assert deploy["TestStaging"]["Configuration"]["PrimarySource"] == "BuildArtifact"
    assert [a["Name"] for a in deploy["DeployStaging"]["OutputArtifacts"]] == ["StagingOutputs"]
    assert deploy["DeployStaging"]["Configuration"]["OutputFileName"] == buildspecs.STAGING_OUTPUTS_FILE


def _seed(kind: str) -> Path:
    path = ROOT / "seed_code" / kind
    if not path.is_dir():
        pytest.skip(f"seed code not present yet: seed_code/{kind}")
    return path


def test_buildspecs_named_by_the_template_exist_in_the_seed_code():
    projects = resources(doc(), "AWS::CodeBuild::Project")
    spec = projects["ModelBuildProject"]["Properties"]["Source"]["BuildSpec"]
    path = _seed("model_build") / spec
    assert path.is_file(), f"{TEMPLATE}: ModelBuildProject names buildspec {spec}, missing at {path.relative_to(ROOT)}"


def test_inline_test_buildspec_runs_the_seed_test_from_the_build_artifact():
    deploy_seed = _seed("model_deploy")
    project = resources(doc(), "AWS::CodeBuild::Project")["ModelDeployTestProject"]
    spec = yaml.safe_load(project["Properties"]["Source"]["BuildSpec"])
    commands = " ".join(spec["phases"]["install"]["commands"] + spec["phases"]["build"]["commands"])
    assert (deploy_seed / buildspecs.TEST_SCRIPT).is_file(), f"seed code lacks {buildspecs.TEST_SCRIPT}"
    assert "-r requirements.txt" in commands and (deploy_seed / "requirements.txt").is_file()
    assert f"python {buildspecs.TEST_SCRIPT} --stack-outputs" in commands, commands
    assert "$CODEBUILD_SRC_DIR_StagingOutputs/staging-stack-outputs.json" in commands, commands
    # The deploy build must hand the whole repository (test/, requirements.txt) to the test.
    assert "**/*" in deploy_config_buildspec()["artifacts"]["files"], "deploy build artifact lacks the repository files"


# ---- the deploy gate: the template's buildspec, not the repository's ------------------------


def inline_buildspec(logical_id: str, config_key: str = "default") -> dict:
    """A CodeBuild project's buildspec, as the rendered template gives it to CodeBuild."""
    project = resources(doc(config_key), "AWS::CodeBuild::Project")[logical_id]
    text = project["Properties"]["Source"]["BuildSpec"]
    spec = yaml.safe_load(text)
    assert isinstance(spec, dict), (
        f"{TEMPLATE}: {logical_id} runs the repository's buildspec {text!r}: whoever can push "
        "to the deploy repository decides MODEL_APPROVED and which model version is deployed"
    )
    return spec


def deploy_config_buildspec(config_key: str = "default") -> dict:
    return inline_buildspec("ModelDeployBuildProject", config_key)


def deploy_gate_buildspec(config_key: str = "default") -> dict:
    return inline_buildspec("ModelDeployGateProject", config_key)


def phase_commands(spec: dict) -> list[str]:
    """Every command, in the order CodeBuild runs the phases."""
    phases = spec["phases"]
    assert set(phases) <= {"install", "pre_build", "build", "post_build"}, sorted(phases)
    return [
        c for name in ("install", "pre_build", "build", "post_build") for c in phases.get(name, {}).get("commands", [])
    ]


@pytest.mark.parametrize("config_key", ["default", "other", "connections"])
def test_deploy_build_and_gate_run_the_templates_buildspecs_not_the_repositorys(config_key):
    config = CONFIGS.get(config_key) or build_config({"source_provider": "codeconnections"})
    d = json.loads(json.dumps(project_template.build(config).to_dict()))
    for logical_id, buildspec in (
        ("ModelDeployBuildProject", buildspecs.DEPLOY_CONFIG_BUILDSPEC),
        ("ModelDeployGateProject", buildspecs.DEPLOY_GATE_BUILDSPEC),
    ):
        source = d["Resources"][logical_id]["Properties"]["Source"]
        assert source["Type"] == "CODEPIPELINE"
        assert source["BuildSpec"] != buildspecs.SEED_DEPLOY_BUILDSPEC
        assert source["BuildSpec"] == buildspec, f"{TEMPLATE}: {logical_id}'s buildspec"
        assert isinstance(yaml.safe_load(source["BuildSpec"]), dict), (
            f"{TEMPLATE}: {logical_id} BuildSpec is not inline"
        )


@pytest.mark.parametrize("config_key", ["default", "other", "connections"])
def test_deploy_gate_is_an_action_of_its_own_after_the_deploy_build_on_its_artifact_only(config_key):
    config = CONFIGS.get(config_key) or build_config({"source_provider": "codeconnections"})
    d = json.loads(json.dumps(project_template.build(config).to_dict()))
    stages = {s["Name"]: s for s in d["Resources"]["ModelDeployPipeline"]["Properties"]["Stages"]}
    actions = {a["Name"]: a for a in stages["Build"]["Actions"]}
    assert list(actions) == ["BuildDeploymentConfig", "VerifyDeploymentGate"], list(actions)
    config_action, gate = actions["BuildDeploymentConfig"], actions["VerifyDeploymentGate"]
    assert config_action["Configuration"] == {"ProjectName": {"Ref": "ModelDeployBuildProject"}}
    assert gate["Configuration"] == {"ProjectName": {"Ref": "ModelDeployGateProject"}}
    # A later run order: the gate starts once the deploy build has stored its artifact.
    assert config_action["RunOrder"] == 1 and gate["RunOrder"] == 2, (config_action["RunOrder"], gate["RunOrder"])
    assert [a["Name"] for a in config_action["InputArtifacts"]] == [buildspecs.SOURCE_ARTIFACT]
    assert [a["Name"] for a in config_action["OutputArtifacts"]] == [buildspecs.BUILD_ARTIFACT]
    # Only the artifact: no source, nothing the repository could hand the gate another way.
    assert [a["Name"] for a in gate["InputArtifacts"]] == [buildspecs.BUILD_ARTIFACT]
    assert "OutputArtifacts" not in gate, "the deploy stages must read BuildArtifact, the object the gate checked"
    # The stage conditions read #{DeployBuild.MODEL_APPROVED}: only the gate exports it.
    assert gate["Namespace"] == buildspecs.DEPLOY_BUILD_NAMESPACE
    assert "Namespace" not in config_action
    for stage in list(stages.values())[2:]:
        for action in stage["Actions"]:
            names = [a["Name"] for a in action.get("InputArtifacts", [])]
            assert buildspecs.BUILD_ARTIFACT in names or stage["Name"] == "ApproveDeployment", (stage["Name"], names)
    # Its own project and encrypted log group, like the other builds, on the same role and key.
    projects = resources(d, "AWS::CodeBuild::Project")
    gate_project = projects["ModelDeployGateProject"]["Properties"]
    config_project = projects["ModelDeployBuildProject"]["Properties"]
    assert gate_project["Name"] == sub(sources.project_names(config)["gate_project"])
    for key in ("ServiceRole", "EncryptionKey"):
        assert gate_project[key] == config_project[key], key
    group = d["Resources"][gate_project["LogsConfig"]["CloudWatchLogs"]["GroupName"]["Ref"]]["Properties"]
    assert group["LogGroupName"] == sub(naming.build_log_group(sources.project_names(config)["gate_project"]))
    assert group["KmsKeyId"] == gate_project["EncryptionKey"]


def test_deploy_build_runs_the_repositorys_steps_and_exports_nothing():
    spec = deploy_config_buildspec()
    assert spec["version"] == 0.2
    assert "exported-variables" not in spec.get("env", {}), "the deploy build must not decide MODEL_APPROVED"
    assert buildspecs.MODEL_APPROVED_VARIABLE not in buildspecs.DEPLOY_CONFIG_BUILDSPEC
    assert "list-model-packages" not in buildspecs.DEPLOY_CONFIG_BUILDSPEC, "the lookup belongs to the gate"
    commands = phase_commands(spec)
    # The repository's steps exactly as its own buildspec runs them (teams keep customising).
    seed = yaml.safe_load((_seed("model_deploy") / buildspecs.SEED_DEPLOY_BUILDSPEC).read_text())
    seed_commands = phase_commands(seed)
    assert commands[:2] == [
        "python -m pip install --quiet --disable-pip-version-check -r requirements.txt",
        "python build.py --allow-no-model",
    ], commands
    for command in commands[:2]:
        assert command in seed_commands, f"deploy build runs {command!r}, the seed buildspec does not"
    # Nothing else: no packaging (the deploy stages deploy the endpoint template the gate checked).
    assert commands[2:] == [], commands[2:]


def test_deploy_gate_runs_no_repository_code_asks_the_registry_then_checks_the_configs():
    spec = deploy_gate_buildspec()
    assert spec["version"] == 0.2
    assert spec["env"]["shell"] == "bash", "the gate's commands are bash ([[ ]], pipefail)"
    exported = spec["env"]["exported-variables"]
    assert exported == [buildspecs.MODEL_APPROVED_VARIABLE, buildspecs.MODEL_PACKAGE_ARN_VARIABLE], exported
    assert "artifacts" not in spec, "the gate has no output: the deploy stages read the artifact it checked"
    text = buildspecs.DEPLOY_GATE_BUILDSPEC
    for word in ("build.py", "pip", "requirements", "build-result.json"):
        # As a word: `set -o pipefail` is no pip.
        assert not re.search(rf"\b{re.escape(word)}\b", text), f"the deploy gate runs repository code: {word!r}"
    commands = phase_commands(spec)
    assert len(commands) == 3, commands
    template_check, lookup, check = commands
    # First the endpoint template: the platform's (its digest from the gate project's environment).
    assert f'"${buildspecs.ENDPOINT_TEMPLATE_SHA256_VARIABLE}"' in template_check, template_check
    assert f"sed '/^#/d' {buildspecs.ENDPOINT_TEMPLATE} | sha256sum" in template_check, template_check
    # The registry first; the check uses the image's python in isolated mode, standard library only.
    for words in (
        "aws sagemaker list-model-packages",
        '--model-package-group-name "$MODEL_PACKAGE_GROUP_NAME"',
        "--model-approval-status Approved",
        "--sort-by CreationTime",
        "--sort-order Descending",
        "--max-items 1",
        "--query 'ModelPackageSummaryList[0].ModelPackageArn'",
        "--output json",
    ):
        assert words in lookup, f"registry lookup lacks {words}: {lookup}"
    assert lookup.startswith(f"{buildspecs.MODEL_PACKAGE_ARN_VARIABLE}=")
    assert "set -euo pipefail" in lookup and "export MODEL_PACKAGE_ARN" in lookup
    assert check.startswith(f"{buildspecs.MODEL_APPROVED_VARIABLE}=")
    assert "set -euo pipefail" in check and f"export {buildspecs.MODEL_APPROVED_VARIABLE}" in check
    assert "python -I -S -c" in check and check.count("python") == 1, check
    for config_file in buildspecs.STAGE_CONFIG.values():
        assert config_file in check, f"the gate does not check {config_file}"
    assert '["Parameters"]["ModelPackageArn"]' in check, "the gate does not read the configs' ModelPackageArn"


def test_seed_buildspec_still_exports_the_gate_for_local_runs():
    """The repository's buildspec.yml is documentation and local tooling now; it stays consistent."""
    spec = yaml.safe_load((_seed("model_deploy") / buildspecs.SEED_DEPLOY_BUILDSPEC).read_text())
    assert buildspecs.MODEL_APPROVED_VARIABLE in spec.get("env", {}).get("exported-variables", [])


# Running the deploy build and then the gate: each rendered buildspec's commands in one bash, as
# CodeBuild runs them, with the real AWS CLI and build.py talking to a moto server. The gate runs
# in a directory of its own holding a copy of the deploy build's artifact (CodeBuild gives it a
# fresh container with the artifact as its source).

GATE_REGION = "us-east-1"
GATE_ACCOUNT = "123456789012"  # moto's default account
GATE_PROJECT, GATE_PROJECT_ID = "fraud-custom-project", "p-abcdef123456"
GATE_GROUP = f"{GATE_PROJECT}-{GATE_PROJECT_ID}"


def _aws_cli() -> Path:
    beside = Path(sys.executable).parent / "aws"
    found = beside if beside.is_file() else (Path(w) if (w := shutil.which("aws")) else None)
    if found is None:
        pytest.fail("the AWS CLI is missing: install the test extras (pip install -e '.[test]', awscli)")
    return found


@pytest.fixture(scope="module")
def moto_server():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def registry(moto_server):
    """A fresh moto server state and a boto3 SageMaker client on it."""
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    return boto3.client(
        "sagemaker",
        endpoint_url=moto_server,
        region_name=GATE_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _register(sagemaker, statuses: list[str]) -> list[str]:
    sagemaker.create_model_package_group(ModelPackageGroupName=GATE_GROUP)
    return [
        sagemaker.create_model_package(
            ModelPackageGroupName=GATE_GROUP,
            ModelApprovalStatus=status,
            InferenceSpecification={
                "Containers": [{"Image": f"{GATE_ACCOUNT}.dkr.ecr.{GATE_REGION}.amazonaws.com/xgboost:1"}],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv"],
            },
        )["ModelPackageArn"]
        for status in statuses
    ]


def _build_environment(endpoint: str, home: Path, project_id: str = "ModelDeployBuildProject") -> dict[str, str]:
    """A deploy pipeline build's environment: every variable the template sets, sample values, moto."""
    sample = {
        "SAGEMAKER_PROJECT_NAME": GATE_PROJECT,
        "SAGEMAKER_PROJECT_ID": GATE_PROJECT_ID,
        "SAGEMAKER_PROJECT_ARN": f"arn:aws:sagemaker:{GATE_REGION}:{GATE_ACCOUNT}:project/{GATE_PROJECT}",
        "ARTIFACT_BUCKET": f"mlops-{GATE_PROJECT_ID}-{GATE_ACCOUNT}",
        "KMS_KEY_ARN": f"arn:aws:kms:{GATE_REGION}:{GATE_ACCOUNT}:key/00000000-0000-0000-0000-000000000000",
        "REQUIRED_TAGS": json.dumps({"project": "fraud", "env": "dev"}),
        "MODEL_PACKAGE_GROUP_NAME": GATE_GROUP,
        "SAGEMAKER_EXECUTION_ROLE_ARN": f"arn:aws:iam::{GATE_ACCOUNT}:role/mlops-custom-project-sagemaker",
        "ENDPOINT_KIND": DEFAULT.endpoint_kind.value,
        "ENDPOINT_INSTANCE_TYPE": DEFAULT.instance_types.endpoint,
    }
    project = resources(doc(), "AWS::CodeBuild::Project")[project_id]
    # The digest the gate compares with is the template's own value: the platform's endpoint template.
    for variable in project["Properties"]["Environment"]["EnvironmentVariables"]:
        if variable["Name"] == buildspecs.ENDPOINT_TEMPLATE_SHA256_VARIABLE:
            sample[variable["Name"]] = variable["Value"]
    names = {v["Name"] for v in project["Properties"]["Environment"]["EnvironmentVariables"]}
    if project_id == "ModelDeployBuildProject":
        assert names == set(sample), f"deploy build environment changed: {sorted(names ^ set(sample))}"
    assert names <= set(sample), f"{project_id} environment has no sample value for {sorted(names - set(sample))}"
    aws_bin = _aws_cli().parent
    return {
        **{name: value for name, value in sample.items() if name in names},
        # What CodeBuild sets itself.
        "AWS_REGION": GATE_REGION,
        "AWS_DEFAULT_REGION": GATE_REGION,
        "CODEBUILD_BUILD_NUMBER": "7",
        "PATH": os.pathsep.join(dict.fromkeys([str(Path(sys.executable).parent), str(aws_bin), "/usr/bin", "/bin"])),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-credentials"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_PAGER": "",
    }


# Left out of the run: the requirements are installed in the test environment already, and pip
# must not reach an index from a test.
_NOT_RUN = "python -m pip install --quiet --disable-pip-version-check -r requirements.txt"


@dataclass
class BuildRun:
    returncode: int
    stdout: str
    stderr: str
    exported: dict[str, str]
    failed: str  # the command that stopped the build, or ""


def _run_buildspec(spec: dict, folder: Path, env: dict[str, str], leave_out: tuple[str, ...] = ()) -> BuildRun:
    """The buildspec's commands in one bash, in order, stopping at the first failure.

    CodeBuild (buildspec 0.2, ``shell: bash``) runs every command of every phase in the same
    shell instance and fails the build at the first command that exits non-zero; the exported
    variables are the shell's values at the end. The script and its records live beside
    ``folder`` (``<folder>.run``), not in it.
    """
    commands = phase_commands(spec)
    for command in leave_out:
        assert command in commands, f"the buildspec no longer runs {command!r}"
    exported = spec.get("env", {}).get("exported-variables", [])
    work = folder.parent / f"{folder.name}.run"
    work.mkdir()
    lines = []
    run = [c for c in commands if c not in leave_out]
    failed = work / "failed-command"
    for i, command in enumerate(run):
        lines += [
            command,
            f'status=$?; if [ "$status" -ne 0 ]; then echo {i} > "{failed}"; exit 97; fi',
        ]
    lines += [f'printf "%s=%s\\n" {name} "${{{name}-}}" >> "{work}/exported.env"' for name in exported]
    script = work / "build.sh"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(["/bin/bash", str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    result = work / "exported.env"
    values = dict(line.split("=", 1) for line in result.read_text().splitlines()) if result.is_file() else {}
    failed_command = run[int(failed.read_text())] if failed.is_file() else ""
    return BuildRun(done.returncode, done.stdout, done.stderr, values, failed_command)


def _run_deploy_build(folder: Path, env: dict[str, str]) -> BuildRun:
    """The deploy build (BuildDeploymentConfig): the repository's build.py and the packaging."""
    return _run_buildspec(deploy_config_buildspec(), folder, env, leave_out=(_NOT_RUN,))


def _artifact(folder: Path) -> Path:
    """BuildArtifact: a copy of what the deploy build left (its artifact is ``**/*``)."""
    assert deploy_config_buildspec()["artifacts"]["files"] == ["**/*"]
    artifact = folder.parent / "artifact"
    shutil.copytree(folder, artifact, symlinks=True)
    return artifact


def _run_gate(artifact: Path, endpoint: str, env: dict[str, str] | None = None) -> BuildRun:
    """The deploy gate (VerifyDeploymentGate) on the artifact, with its own project's environment."""
    gate_env = env or _build_environment(endpoint, artifact.parent / "home", "ModelDeployGateProject")
    return _run_buildspec(deploy_gate_buildspec(), artifact, gate_env)


def _deploy_then_gate(folder: Path, endpoint: str) -> tuple[BuildRun, BuildRun, Path]:
    """The Build stage: the deploy build on the repository, then the gate on its artifact."""
    build = _run_deploy_build(folder, _build_environment(endpoint, folder.parent / "home"))
    assert build.returncode == 0, f"the deploy build failed at {build.failed!r}:\n{build.stderr}"
    assert build.exported == {}, build.exported
    artifact = _artifact(folder)
    return build, _run_gate(artifact, endpoint), artifact


@pytest.fixture
def deploy_repository(tmp_path) -> Path:
    """A clone of the seed deploy repository (build.py, stage configs, endpoint template, test/)."""
    folder = tmp_path / "src"
    shutil.copytree(_seed("model_deploy"), folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "home").mkdir()
    return folder


def _tampered_build_py(folder: Path, files: dict[str, str]) -> None:
    """A build.py a data scientist rewrote: it writes exactly these files and claims approval."""
    files = {**files, "build-result.json": json.dumps({"model_approved": "true"})}
    (folder / "build.py").write_text(
        "import pathlib\n"
        f"for name, text in {files!r}.items():\n"
        "    pathlib.Path(name).write_text(text)\n"
        'print("build.py: deploying whatever I like")\n',
        encoding="utf-8",
    )


def _config(arn: str) -> str:
    return json.dumps({"Parameters": {"ModelPackageArn": arn, "StageName": "staging"}, "Tags": {}})


def test_gate_run_without_an_approved_model_skips_the_deploy_stages(registry, moto_server, deploy_repository):
    _register(registry, ["PendingManualApproval", "Rejected", "PendingManualApproval"])
    build, run, artifact = _deploy_then_gate(deploy_repository, moto_server)
    assert (artifact / buildspecs.ENDPOINT_TEMPLATE).is_file(), build.stderr
    assert not (artifact / "staging-config-export.json").exists()
    assert run.returncode == 0, run.stderr
    assert run.exported == {"MODEL_APPROVED": "false", "MODEL_PACKAGE_ARN": "none"}, run.stderr
    assert "deploy gate: no Approved model package in group" in run.stderr


def test_gate_run_approves_the_newest_approved_model_build_py_chose(registry, moto_server, deploy_repository):
    arns = _register(registry, ["Approved", "PendingManualApproval", "Approved", "Rejected", "PendingManualApproval"])
    # moto lists ascending by default: only an explicit descending sort finds arns[2].
    listed = registry.list_model_packages(ModelPackageGroupName=GATE_GROUP, ModelApprovalStatus="Approved")
    assert listed["ModelPackageSummaryList"][0]["ModelPackageArn"] == arns[0]
    build = _run_deploy_build(deploy_repository, _build_environment(moto_server, deploy_repository.parent / "home"))
    assert build.returncode == 0 and build.exported == {}, build.stderr
    artifact = _artifact(deploy_repository)
    # Files in the artifact are data to the gate, never code: an isolated python does not import
    # them, and the image's tools come from its PATH, not from the artifact.
    planted = "import pathlib; pathlib.Path('PLANTED_RAN').write_text('yes')\n"
    for name in ("json.py", "sitecustomize.py", "usercustomize.py"):
        (artifact / name).write_text(planted, encoding="utf-8")
    for tool in ("python", "aws", "tr"):
        (artifact / tool).write_text("#!/bin/sh\necho planted > PLANTED_RAN\n", encoding="utf-8")
        (artifact / tool).chmod(0o755)
    run = _run_gate(artifact, moto_server)
    assert run.returncode == 0, run.stderr
    assert not (artifact / "PLANTED_RAN").exists(), "the gate ran code from the artifact"
    assert run.exported == {"MODEL_APPROVED": "true", "MODEL_PACKAGE_ARN": arns[2]}, run.stderr
    for stage, name in buildspecs.STAGE_CONFIG.items():
        exported = json.loads((artifact / name).read_text())
        assert exported["Parameters"]["ModelPackageArn"] == arns[2], stage
    assert f"deploy gate: every stage configuration deploys {arns[2]}" in run.stderr
    assert (artifact / buildspecs.ENDPOINT_TEMPLATE).is_file(), build.stderr


@pytest.mark.parametrize("change", ["a resource changed", "comment only"])
def test_gate_run_accepts_only_the_platforms_endpoint_template(registry, moto_server, deploy_repository, change):
    """What is deployed is the platform's decision too: a repository that edits the endpoint
    template (here: the endpoint's variant set to another instance type) is refused even with the
    right model; comments change nothing CloudFormation deploys and pass."""
    _register(registry, ["Approved"])
    template = deploy_repository / buildspecs.ENDPOINT_TEMPLATE
    text = template.read_text(encoding="utf-8")
    if change == "comment only":
        template.write_text("# reviewed by the team\n" + text, encoding="utf-8")
    else:
        assert "InstanceType: !Ref 'EndpointInstanceType'" in text, "the sample edit no longer applies"
        template.write_text(text.replace("InstanceType: !Ref 'EndpointInstanceType'", "InstanceType: ml.p5.48xlarge"))
    build, run, artifact = _deploy_then_gate(deploy_repository, moto_server)
    if change == "comment only":
        assert run.returncode == 0, run.stderr
        assert run.exported["MODEL_APPROVED"] == "true", run.stderr
    else:
        assert run.returncode != 0, "the gate accepted a changed endpoint template"
        assert f"deploy gate: {buildspecs.ENDPOINT_TEMPLATE} is not the platform's endpoint template" in run.stderr


@pytest.mark.parametrize(
    "case",
    ["older approved", "pending", "rejected", "prod only", "key given twice", "prod missing", "not json"],
)
def test_gate_run_refuses_configs_naming_another_model(registry, moto_server, deploy_repository, case):
    arns = _register(registry, ["Approved", "Approved", "PendingManualApproval", "Rejected"])
    newest = arns[1]
    staging, prod = buildspecs.STAGE_CONFIG["staging"], buildspecs.STAGE_CONFIG["prod"]
    files = {
        "older approved": {staging: _config(arns[0]), prod: _config(arns[0])},
        "pending": {staging: _config(arns[2]), prod: _config(arns[2])},
        "rejected": {staging: _config(arns[3]), prod: _config(arns[3])},
        "prod only": {staging: _config(newest), prod: _config(arns[2])},
        # A reader that keeps the first value would pass it; CloudFormation's may keep the last.
        "key given twice": {
            staging: _config(newest),
            prod: f'{{"Parameters": {{"ModelPackageArn": "{newest}", "ModelPackageArn": "{arns[2]}"}}}}',
        },
        "prod missing": {staging: _config(newest)},
        "not json": {staging: _config(newest), prod: "ModelPackageArn: " + newest},
    }[case]
    _tampered_build_py(deploy_repository, files)
    _, run, _ = _deploy_then_gate(deploy_repository, moto_server)
    assert run.returncode != 0, f"{case}: the gate passed:\n{run.stderr}"
    assert run.failed.startswith("MODEL_APPROVED="), f"{case}: failed elsewhere than the check: {run.failed}"
    assert "MODEL_APPROVED" not in run.exported or run.exported["MODEL_APPROVED"] != "true"
    gate_lines = [line for line in run.stderr.splitlines() if line.startswith("deploy gate:")]
    assert gate_lines, run.stderr
    failing = staging if case in {"older approved", "pending", "rejected"} else prod
    assert failing in gate_lines[-1] and "refusing to deploy" in gate_lines[-1], gate_lines
    if case in {"older approved", "pending", "rejected", "prod only"}:
        assert f"the newest Approved model package of group {GATE_GROUP} is {newest}" in gate_lines[-1]


def test_gate_run_fails_when_the_registry_does_not_answer(registry, moto_server, deploy_repository):
    _register(registry, [])
    build = _run_deploy_build(deploy_repository, _build_environment(moto_server, deploy_repository.parent / "home"))
    assert build.returncode == 0, build.stderr
    artifact = _artifact(deploy_repository)
    env = _build_environment(moto_server, artifact.parent / "home", "ModelDeployGateProject")
    with __import__("socket").socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        env.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{closed.getsockname()[1]}", AWS_MAX_ATTEMPTS="1")
        run = _run_gate(artifact, moto_server, env)
    assert run.returncode != 0 and run.failed.startswith("MODEL_PACKAGE_ARN="), run.stderr
    assert run.exported == {}


def test_gate_run_ignores_a_repository_that_claims_approval(registry, moto_server, deploy_repository):
    """Nothing approved: build.py writing configs and build-result.json 'true' changes nothing."""
    pending = _register(registry, ["PendingManualApproval"])[0]
    _tampered_build_py(deploy_repository, {name: _config(pending) for name in buildspecs.STAGE_CONFIG.values()})
    _, run, _ = _deploy_then_gate(deploy_repository, moto_server)
    assert run.returncode == 0, run.stderr
    assert run.exported == {"MODEL_APPROVED": "false", "MODEL_PACKAGE_ARN": "none"}, run.stderr


# ---- rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_rules_filter_their_repository_main_and_only_approved_models(config_key):
    config = CONFIGS[config_key]
    d = doc(config_key)
    rules = resources(d, "AWS::Events::Rule")
    names = sources.project_names(config)
    expected = {
        "ModelBuildPushRule": ("build_repository", "build_pipeline"),
        "ModelDeployPushRule": ("deploy_repository", "deploy_pipeline"),
        "ModelApprovedRule": (None, "deploy_pipeline"),
    }
    assert set(rules) == set(expected), f"{TEMPLATE}: rules {sorted(rules)}"
    group_name = resources(d, "AWS::SageMaker::ModelPackageGroup")["ModelPackageGroup"]["Properties"][
        "ModelPackageGroupName"
    ]
    for logical_id, rule in rules.items():
        p = rule["Properties"]
        where = f"{TEMPLATE}: {logical_id}"
        repo, pipeline = expected[logical_id]
        pattern = p["EventPattern"]
        if repo:
            assert pattern["source"] == ["aws.codecommit"], where
            assert pattern["detail"]["referenceName"] == ["main"], where
            assert pattern["detail"]["referenceType"] == ["branch"], where
            assert pattern["resources"] == [
                {"Fn::Sub": "arn:${AWS::Partition}:codecommit:${AWS::Region}:${AWS::AccountId}:" + names[repo].pattern}
            ], where
        else:
            assert pattern["source"] == ["aws.sagemaker"], where
            assert pattern["detail-type"] == ["SageMaker Model Package State Change"], where
            assert pattern["detail"]["ModelApprovalStatus"] == ["Approved"], f"{where}: must start on Approved only"
            assert pattern["detail"]["ModelPackageGroupName"] == [group_name], f"{where}: not this project's group"
            assert "ModelPackageGroup" in rule["DependsOn"], f"{where}: may exist before its group"
        (target,) = p["Targets"]
        assert target["Arn"] == {
            "Fn::Sub": "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:" + names[pipeline].pattern
        }, where
        assert target["RoleArn"] == role(config, "events"), where
        assert p["State"] == "ENABLED", where


# ---- ARNs and names ------------------------------------------------------------------------


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_arns_are_partition_safe_with_no_account_or_region_written_in(config_key):
    config = CONFIGS[config_key]
    text = project_template.build(config).to_yaml()
    assert "arn:aws:" not in text, f"{TEMPLATE}: hard-coded partition"
    # The only account ids written in: AWS's SageMaker image accounts (ECR pulls pinned to them).
    image_accounts = set(json.loads(iam.IMAGE_ACCOUNTS_FILE.read_text())["accounts"].values())
    written = set(re.findall(r"(?<![\d{])\d{12}(?![\d}])", text)) - image_accounts
    assert not written, f"{TEMPLATE}: account id written in: {written}"
    region = re.search(
        r"\b[a-z]{2}(-gov)?-(north|south|east|west|central|northeast|southeast|northwest|southwest)-\d\b", text
    )
    assert not region, f"{TEMPLATE}: region written in: {region and region[0]}"
    for arn in re.findall(r"arn:[^'\s]*", text):
        assert arn.startswith("arn:${AWS::Partition}:"), f"{TEMPLATE}: ARN {arn} not partition-safe"


@pytest.mark.parametrize("config_key", ["default", "other", "longest"])
def test_every_derived_name_fits_its_limit_at_maximum_lengths(config_key):
    config = LONGEST if config_key == "longest" else CONFIGS[config_key]
    for what, name in sources.project_names(config).items():
        longest = name.longest()
        assert len(longest) <= name.limit, (
            f"{TEMPLATE}: {what} {longest!r} is {len(longest)} > {name.limit} ({name.limit_of})"
        )


def _name_values(node, key=None):
    """Every value of a property that names something, anywhere in the template."""
    named = {"Name", "BucketName", "RepositoryName", "ModelPackageGroupName", "StackName"}
    if isinstance(node, dict):
        for k, v in node.items():
            if k in named and not (isinstance(v, dict) and "Ref" in v) and not isinstance(v, list):
                yield k, v
            yield from _name_values(v, k)
    elif isinstance(node, list):
        for item in node:
            yield from _name_values(item, key)


@pytest.mark.parametrize("config_key", ["default", "longest"])
def test_every_name_in_the_template_is_a_budgeted_derived_name(config_key):
    config = LONGEST if config_key == "longest" else CONFIGS[config_key]
    d = doc(config_key)
    budgeted = {json.dumps(sub(n)) for n in sources.project_names(config).values()}
    checked = 0
    for key, value in _name_values(d["Resources"]):
        if isinstance(value, str):
            continue  # stage/action/variable labels and env var names: not resource names
        checked += 1
        assert json.dumps(value) in budgeted, f"{TEMPLATE}: {key} {value} is not a budgeted naming.DerivedName"
    assert checked >= 14, f"{TEMPLATE}: only {checked} names found"


# ---- parameters ----------------------------------------------------------------------------

SAGEMAKER_NAME = botocore.session.get_session().get_service_model("sagemaker").shape_for("ProjectEntityName")


def _accepts(parameter: dict, value: str) -> bool:
    """CloudFormation's constraints: lengths and AllowedPattern.

    The pattern is applied with search semantics (a match anywhere counts), the most lenient
    reading: a pattern that is correct this way is correct whether or not the service anchors
    it, so a pattern missing ``^`` or ``$`` fails these tests (B11).
    """
    if len(value) < parameter.get("MinLength", 0) or len(value) > parameter.get("MaxLength", 4096):
        return False
    return re.search(parameter["AllowedPattern"], value) is not None


def _sagemaker_accepts(value: str) -> bool:
    meta = SAGEMAKER_NAME.metadata
    return meta["min"] <= len(value) <= meta["max"] and re.fullmatch(meta["pattern"], value) is not None


def name_parameter(config_key: str = "default") -> dict:
    return doc(config_key)["Parameters"]["SageMakerProjectName"]


@pytest.mark.parametrize("value", ["fraud-custom-project", "a-custom-project", "Fraud2-team-x-custom-project"])
def test_project_name_pattern_accepts(value):
    assert _accepts(name_parameter(), value), f"{TEMPLATE}: SageMakerProjectName refuses {value!r}"
    assert _sagemaker_accepts(value)


@pytest.mark.parametrize(
    "value",
    [
        "custom-project-x",  # prefix only
        "custom-project",  # suffix with nothing before it
        "fraud-custom-project-x",  # trailing text after the suffix
        "fraud-custom-projectx",
        "fraud-custom-project ",
        "a" * (33 - len("-custom-project")) + "-custom-project",  # 33 characters
        "fraud--custom-project",  # double hyphen
        "fraud--x-custom-project",
        "1fraud-custom-project",  # leading digit
        "-fraud-custom-project",
        "fraud_x-custom-project",
        "",
    ],
)
def test_project_name_pattern_rejects(value):
    assert not _accepts(name_parameter(), value), f"{TEMPLATE}: SageMakerProjectName accepts {value!r}"


def test_project_name_length_limit_is_exactly_32():
    at_limit = "a" * (32 - len("-custom-project")) + "-custom-project"
    assert len(at_limit) == 32 and _accepts(name_parameter(), at_limit)


def test_project_name_pattern_follows_the_configured_suffix():
    parameter = name_parameter("other")
    assert _accepts(parameter, "fraud-fraud-lab")
    assert not _accepts(parameter, "fraud-custom-project")


segment = st.from_regex(r"[a-zA-Z0-9]{1,6}", fullmatch=True)
first_segment = st.from_regex(r"[a-zA-Z][a-zA-Z0-9]{0,5}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(first=first_segment, rest=st.lists(segment, max_size=4))
def test_generated_valid_names_are_accepted_when_they_fit(first, rest):
    value = "-".join([first, *rest, "custom-project"])
    assert _accepts(name_parameter(), value) == (len(value) <= 32), value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aZ09-_ .", max_size=20).map(lambda s: s + "-custom-project"))
def test_every_accepted_name_is_a_valid_sagemaker_name_with_the_suffix(value):
    if _accepts(name_parameter(), value):
        assert _sagemaker_accepts(value), f"SageMaker would refuse {value!r}"
        assert value.endswith("-custom-project") and "--" not in value and value[0].isalpha(), value


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="aZ09-", max_size=34))
def test_arbitrary_text_is_accepted_only_with_the_suffix(value):
    if _accepts(name_parameter(), value):
        assert value.endswith("-custom-project") and len(value) <= 32, value


def test_project_id_pattern():
    parameter = doc()["Parameters"]["SageMakerProjectId"]
    assert _accepts(parameter, "p-abcdef123456")
    for bad in ("p-ABCDEF123456", "p-abcdef12345", "p-abcdef1234567", "x-abcdef123456", ""):
        assert not _accepts(parameter, bad), bad


def test_parameters_are_grouped_and_labelled():
    d = doc("other")
    interface = d["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for g in interface["ParameterGroups"] for p in g["Parameters"]]
    assert sorted(grouped) == sorted(d["Parameters"]), f"{TEMPLATE}: ungrouped parameters"
    assert set(interface["ParameterLabels"]) == set(d["Parameters"]), f"{TEMPLATE}: unlabelled parameters"
    assert not [p for p in d["Parameters"] if "Role" in p], f"{TEMPLATE}: role parameters are not needed"


# ---- deployment on moto --------------------------------------------------------------------

# moto reports CREATE_COMPLETE for these types without creating anything (or ignores the
# property): cfn-lint's resource schemas are the only evidence for them here.
MOTO_CANNOT_CHECK = {
    "AWS::CodeCommit::Repository": "not created: repositories, seeding from S3, branch",
    "AWS::CodeBuild::Project": "not created: image, key, environment variables, role",
    "AWS::CodePipeline::Pipeline": "not created: stages, artifact store key, roles; nor the creation run",
    "AWS::S3::BucketPolicy": "not applied: TLS-only and key-enforcing denies",
    "AWS::SageMaker::ModelPackageGroup": "not created: group name and tags",
    "AWS::S3::Bucket VersioningConfiguration": "ignored",
    "AWS::S3::Bucket PublicAccessBlockConfiguration": "ignored",
    "AWS::S3::Bucket BucketKeyEnabled": "ignored (reads back false)",
    "{{resolve:ssm:...}} dynamic references": "left unresolved by moto's CloudFormation: the smoke "
    "test writes the product stack's SSM parameters into moto's SSM and resolves each reference "
    "from there (resolve_ssm_references), failing on a parameter the product stack does not write",
    "AWS::S3::Bucket LifecycleConfiguration": "ignored (get_bucket_lifecycle_configuration reads back "
    "NoSuchLifecycleConfiguration): the template is the evidence for the rule",
    "Parameter constraints": "AllowedPattern/MaxLength not enforced (pattern tests above cover them)",
}

PROJECT = "fraud-custom-project"
PROJECT_ID = "p-abcdef123456"
REGION = "eu-west-1"


def test_moto_cannot_check_list_names_types_the_template_uses():
    types = {r["Type"] for r in doc()["Resources"].values()}
    for entry in MOTO_CANNOT_CHECK:
        if entry.startswith("AWS::"):
            assert entry.split()[0] in types, entry


_SSM_REFERENCE = re.compile(r"\{\{resolve:ssm:([^}]+)\}\}")


def resolve_ssm_references(body: str, ssm) -> str:
    """What CloudFormation does with ``{{resolve:ssm:NAME}}`` and moto does not: read SSM.

    A reference to a parameter missing from SSM raises, as CloudFormation fails the stack.
    """
    names = set(_SSM_REFERENCE.findall(body))
    assert names, f"{TEMPLATE}: no {{{{resolve:ssm:...}}}} reference to resolve"
    values = {name: ssm.get_parameter(Name=name)["Parameter"]["Value"] for name in names}
    return _SSM_REFERENCE.sub(lambda m: values[m.group(1)], body)


@pytest.fixture(scope="module")
def deployed():
    from moto import mock_aws

    # moto warns once per type it skips (the list above); the warnings are expected noise.
    with warnings.catch_warnings(), mock_aws():
        warnings.simplefilter("ignore", UserWarning)
        kms = boto3.client("kms", region_name=REGION)
        key_arn = kms.create_key(Description="project key")["KeyMetadata"]["Arn"]
        ssm = boto3.client("ssm", region_name=REGION)
        for parameter, value in (
            (naming.key_arn_parameter(DEFAULT), key_arn),
            (naming.seed_code_bucket_parameter(DEFAULT), "published-seed-bucket"),
            (naming.seed_code_prefix_parameter(DEFAULT), "mlops/v1.0"),
        ):
            ssm.put_parameter(Name=parameter.pattern, Value=value, Type="String")
        cfn = boto3.client("cloudformation", region_name=REGION)
        body = render.render(next(t for t in render.TARGETS if t.name == "project"), DEFAULT)
        # The values come from SSM, where the product stack wrote them (moto's CloudFormation
        # does not read dynamic references itself); Studio passes no key or seed location.
        cfn.create_stack(
            StackName="project-stack",
            TemplateBody=resolve_ssm_references(body, ssm),
            Parameters=[
                {"ParameterKey": "SageMakerProjectName", "ParameterValue": PROJECT},
                {"ParameterKey": "SageMakerProjectId", "ParameterValue": PROJECT_ID},
                {"ParameterKey": "TagProject", "ParameterValue": "fraud"},
            ],
        )
        stack = cfn.describe_stacks(StackName="project-stack")["Stacks"][0]
        account = boto3.client("sts", region_name=REGION).get_caller_identity()["Account"]
        s3 = boto3.client("s3", region_name=REGION)
        bucket = f"{DEFAULT.namespace}-{PROJECT_ID}-{account}"
        events = boto3.client("events", region_name=REGION)
        rules = {}
        for rule in events.list_rules()["Rules"]:
            rules[rule["Name"]] = {
                "pattern": json.loads(rule["EventPattern"]),
                "targets": events.list_targets_by_rule(Rule=rule["Name"])["Targets"],
                "tags": events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"],
            }
        yield {
            "status": stack["StackStatus"],
            "reason": stack.get("StackStatusReason"),
            "account": account,
            "key_arn": key_arn,
            "encryption": s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"],
            "lifecycle": _lifecycle_or_error_code(s3, bucket),
            "bucket_tags": s3.get_bucket_tagging(Bucket=bucket)["TagSet"],
            "rules": rules,
        }


def _lifecycle_or_error_code(s3, bucket: str):
    from botocore.exceptions import ClientError

    try:
        return s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except ClientError as error:
        return error.response["Error"]["Code"]


def test_moto_stack_reaches_create_complete(deployed):
    assert deployed["status"] == "CREATE_COMPLETE", f"{TEMPLATE} on moto: {deployed['reason']}"


def test_moto_bucket_reads_back_sse_kms_with_the_customer_key(deployed):
    (rule,) = deployed["encryption"]["Rules"]
    default = rule["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms", f"{TEMPLATE}: ArtifactBucket not SSE-KMS on moto"
    assert default["KMSMasterKeyID"] == deployed["key_arn"], f"{TEMPLATE}: ArtifactBucket key on moto"


def test_moto_bucket_reads_back_the_project_tags(deployed):
    tags = {t["Key"]: t["Value"] for t in deployed["bucket_tags"]}
    assert tags == {
        "sagemaker:project-name": PROJECT,
        "sagemaker:project-id": PROJECT_ID,
        "project": "fraud",
        "env": "dev",
        tagging.TEAM_TAG: tagging.team(DEFAULT),
    }, f"{TEMPLATE}: ArtifactBucket tags on moto"


def _event(source: str, detail_type: str, detail: dict, resources: list[str], account: str) -> dict:
    return {
        "version": "0",
        "id": "1",
        "source": source,
        "detail-type": detail_type,
        "account": account,
        "time": "2026-01-01T00:00:00Z",
        "region": REGION,
        "resources": resources,
        "detail": detail,
    }


def test_moto_rules_read_back_and_match_only_the_intended_events(deployed):
    from moto.events.models import EventPattern  # moto's implementation of EventBridge matching

    account = deployed["account"]
    prefix = f"{PROJECT}-{PROJECT_ID}"
    rules = deployed["rules"]
    assert set(rules) == {f"{prefix}-build-push", f"{prefix}-deploy-push", f"{prefix}-model-approved"}, sorted(rules)
    pipeline_arn = f"arn:aws:codepipeline:{REGION}:{account}:{prefix}-model-%s"
    # The stack's own role (moto creates it), under the team's path.
    path = naming.role_path(DEFAULT).replace("${AWS::Region}", REGION)
    events_role = f"arn:aws:iam::{account}:role{path}{prefix}-events"
    for rule_name, pipeline in (
        (f"{prefix}-build-push", "build"),
        (f"{prefix}-deploy-push", "deploy"),
        (f"{prefix}-model-approved", "deploy"),
    ):
        (target,) = rules[rule_name]["targets"]
        assert target["Arn"] == pipeline_arn % pipeline, f"{TEMPLATE}: {rule_name} target on moto"
        assert target["RoleArn"] == events_role, f"{TEMPLATE}: {rule_name} role on moto"
        tags = {t["Key"]: t["Value"] for t in rules[rule_name]["tags"]}
        assert tags.get("sagemaker:project-id") == PROJECT_ID, f"{TEMPLATE}: {rule_name} tags on moto"

    approved = EventPattern.load(json.dumps(rules[f"{prefix}-model-approved"]["pattern"]))

    def package_event(status: str, group: str = prefix) -> dict:
        return _event(
            "aws.sagemaker",
            "SageMaker Model Package State Change",
            {"ModelPackageGroupName": group, "ModelApprovalStatus": status, "ModelPackageVersion": 1},
            [f"arn:aws:sagemaker:{REGION}:{account}:model-package/{group}/1"],
            account,
        )

    assert approved.matches_event(package_event("Approved")), "Approved model must start the deploy pipeline"
    for status in ("PendingManualApproval", "Rejected"):
        assert not approved.matches_event(package_event(status)), f"{status} must not deploy (B8)"
    assert not approved.matches_event(package_event("Approved", "other-custom-project-p-000000000000"))

    for kind in ("build", "deploy"):
        push = EventPattern.load(json.dumps(rules[f"{prefix}-{kind}-push"]["pattern"]))
        repo_arn = f"arn:aws:codecommit:{REGION}:{account}:{prefix}-model-{kind}"

        def push_event(branch: str, repo: str = repo_arn, event: str = "referenceUpdated") -> dict:
            return _event(
                "aws.codecommit",
                "CodeCommit Repository State Change",
                {"event": event, "referenceType": "branch", "referenceName": branch},
                [repo],
                account,
            )

        assert push.matches_event(push_event("main")), f"push to main of {kind} must start it"
        assert push.matches_event(push_event("main", event="referenceCreated"))
        assert not push.matches_event(push_event("feature")), "other branches must not"
        assert not push.matches_event(push_event("main", event="referenceDeleted"))
        other = "build" if kind == "deploy" else "deploy"
        assert not push.matches_event(push_event("main", repo=repo_arn.replace(kind, other)))


@pytest.mark.parametrize("config_key", sorted(CONFIGS))
def test_every_build_logs_to_its_own_group_under_the_customer_key(config_key):
    d = doc(config_key)
    groups = resources(d, "AWS::Logs::LogGroup")
    for logical_id, project in resources(d, "AWS::CodeBuild::Project").items():
        logs = project["Properties"]["LogsConfig"]["CloudWatchLogs"]
        ref = logs.get("GroupName", {}).get("Ref")
        assert ref in groups, f"{TEMPLATE}: {logical_id} logs to CodeBuild's unencrypted default group"
        group = groups[ref]
        assert group["Properties"]["KmsKeyId"] == key_expr(CONFIGS[config_key]), (
            f"{TEMPLATE}: {ref} is not encrypted with the customer key"
        )
        assert group["Properties"]["RetentionInDays"] > 0 and group.get("DeletionPolicy") == "Retain", ref


# ---- day one in a real account -------------------------------------------------------------

CONNECTIONS = build_config({"source_provider": "codeconnections"})
# Properties (and the env var) through which a resource is told which key to use.
_KEY_PROPERTIES = ("KMSMasterKeyID", "EncryptionKey", "KmsKeyId", "s3:x-amz-server-side-encryption-aws-kms-key-id")


def _key_uses(node, path: str = ""):
    """(where, value) of every key setting in the resources, the KMS_KEY_ARN env var included."""
    if isinstance(node, dict):
        if node.get("Name") == "KMS_KEY_ARN" and "Value" in node:
            yield f"{path}.KMS_KEY_ARN", node["Value"]
        for k, v in node.items():
            if k in _KEY_PROPERTIES and path.endswith(".Null"):
                continue  # "is the header present" names no key
            if k in _KEY_PROPERTIES:
                # CodePipeline's artifact store: {"Id": <key>, "Type": "KMS"}
                yield f"{path}.{k}", v["Id"] if isinstance(v, dict) and v.get("Type") == "KMS" else v
            else:
                yield from _key_uses(v, f"{path}.{k}" if path else k)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _key_uses(item, f"{path}[{i}]")


@pytest.mark.parametrize("config", [DEFAULT, OTHER, CONNECTIONS], ids=["default", "other", "connections"])
def test_no_free_text_key_or_seed_parameter_and_every_key_use_is_the_products(config):
    d = json.loads(json.dumps(project_template.build(config).to_dict()))
    for gone in ("KmsArn", "SeedCodeBucket", "SeedCodeKeyPrefix"):
        assert gone not in d["Parameters"], f"{TEMPLATE}: Parameters.{gone} lets Studio type a value the roles refuse"
    for gone in ("UseProductKey", "UseProductSeedCodeBucket", "UseProductSeedCodePrefix"):
        assert gone not in d.get("Conditions", {}), f"{TEMPLATE}: Conditions.{gone} is left over"
    studio = {"SageMakerProjectName", "SageMakerProjectId", *(tag_param(t.key) for t in config.required_tags)}
    if not config.uses_codecommit:
        studio |= {"CodeConnectionArn", "ModelBuildRepository", "ModelDeployRepository", "SourceBranch"}
    assert set(d["Parameters"]) == studio, f"{TEMPLATE}: Studio parameters {sorted(d['Parameters'])}"
    expected = ssm_ref(naming.key_arn_parameter(config))
    uses = list(_key_uses(d["Resources"]))
    for where, value in uses:
        assert value == expected, f"{TEMPLATE}: {where} is {value!r}, not the product's key {expected}"
    # Bucket, bucket policy, 2 pipeline stores, and per build: project key, KMS_KEY_ARN, log group.
    builds = len(resources(d, "AWS::CodeBuild::Project"))
    assert len(uses) == 4 + 3 * builds, f"{TEMPLATE}: key uses found {[w for w, _ in uses]}"
    # The references name the parameters the product stack of the same configuration writes.
    from generator import product_template  # noqa: PLC0415

    written = {
        r["Properties"]["Name"]
        for r in product_template.build(config).to_dict()["Resources"].values()
        if r["Type"] == "AWS::SSM::Parameter"
    }
    for name in re.findall(r"\{\{resolve:ssm:([^}]+)\}\}", json.dumps(d)):
        assert name in written, (
            f"{TEMPLATE}: resolves {name}, which the product stack does not write ({sorted(written)})"
        )


@pytest.mark.parametrize("days", [None, 1, 365, 3650], ids=["default", "1", "365", "3650"])
def test_artifact_bucket_expires_noncurrent_versions_and_aborts_stale_uploads(days):
    """From the template: moto ignores LifecycleConfiguration (see the moto test below)."""
    config = build_config({} if days is None else {"noncurrent_version_expiration_days": days})
    expected_days = 30 if days is None else days
    assert config.noncurrent_version_expiration_days == expected_days
    buckets = resources(json.loads(json.dumps(project_template.build(config).to_dict())), "AWS::S3::Bucket")
    for logical_id, bucket in buckets.items():
        where = f"{TEMPLATE}: {logical_id}.LifecycleConfiguration"
        lifecycle = bucket["Properties"].get("LifecycleConfiguration")
        assert lifecycle, f"{where} missing: old versions would pile up forever"
        (rule,) = lifecycle["Rules"]
        assert rule["Status"] == "Enabled", f"{where}: rule {rule}"
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": expected_days}, f"{where}: rule {rule}"
        assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}, f"{where}: rule {rule}"
        # The whole bucket, and current objects never expire (only replaced or deleted versions).
        assert not {"Prefix", "TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan"} & set(rule), where
        assert not {
            "ExpirationInDays",
            "ExpirationDate",
            "ExpiredObjectDeleteMarker",
            "Transitions",
            "NoncurrentVersionTransitions",
        } & set(rule), f"{where}: expires or moves current data: {rule}"


def test_moto_lifecycle_reads_back_or_is_listed_as_unchecked(deployed):
    lifecycle = deployed["lifecycle"]
    if isinstance(lifecycle, str):  # moto's CloudFormation does not apply the property
        assert lifecycle == "NoSuchLifecycleConfiguration", f"{TEMPLATE}: ArtifactBucket lifecycle on moto: {lifecycle}"
        assert "AWS::S3::Bucket LifecycleConfiguration" in MOTO_CANNOT_CHECK
        return
    (rule,) = lifecycle
    where = f"{TEMPLATE}: ArtifactBucket lifecycle on moto"
    assert rule["Status"] == "Enabled", f"{where}: {rule}"
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == DEFAULT.noncurrent_version_expiration_days, where
    assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}, f"{where}: {rule}"
    assert "AWS::S3::Bucket LifecycleConfiguration" not in MOTO_CANNOT_CHECK, (
        "moto now applies LifecycleConfiguration: drop it from MOTO_CANNOT_CHECK"
    )


@pytest.mark.parametrize("config", [DEFAULT, OTHER, CONNECTIONS], ids=["default", "other", "connections"])
def test_deploy_pipeline_waits_for_the_model_package_group(config):
    d = json.loads(json.dumps(project_template.build(config).to_dict()))
    (group,) = resources(d, "AWS::SageMaker::ModelPackageGroup")
    depends = d["Resources"]["ModelDeployPipeline"].get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else depends
    assert group in depends, (
        f"{TEMPLATE}: ModelDeployPipeline DependsOn {depends}: its creation run may list the packages of "
        f"{group} before it exists"
    )
    if config.uses_codecommit:
        assert "ModelDeployRepository" in depends, f"{TEMPLATE}: ModelDeployPipeline DependsOn {depends}"
