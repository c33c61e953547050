"""The model-deploy endpoint template: cfn-lint's schemas, invariants, and a deploy on moto.

What moto cannot check here (covered by cfn-lint's resource schemas only):
"""

from __future__ import annotations

import json

import boto3
import cfnlint.api
import pytest
from moto import mock_aws

from generator import endpoint_template, tagging
from generator.config import build_config

MOTO_CANNOT_CHECK = (
    "AWS::ApplicationAutoScaling::ScalableTarget, ScalingPolicy and AWS::CloudWatch::Alarm: "
    "moto's CloudFormation skips them (no scale-to-zero, no HasBacklogWithoutCapacity alarm)",
    "resource names of Model, EndpointConfig and Endpoint: moto generates its own",
    "parameter constraints (AllowedPattern, AllowedValues, MinValue): moto does not enforce them",
    "that the model's container comes from the model package: moto does not keep PrimaryContainer",
    "tags on the SNS topics: moto's CloudFormation does not apply them (the invariant test covers them)",
    "that SageMaker can use the key and publish to the topics (execution role, key policy)",
)
__doc__ += "".join(f"\n- {item}" for item in MOTO_CANNOT_CHECK)

KINDS = ("async", "realtime")
SAGEMAKER_TYPES = ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint")
TEMPLATE_NAME = "endpoint-config-template.yml"


def _body(kind: str) -> dict:
    return json.loads(endpoint_template.build(build_config({"endpoint_kind": kind})).to_json())


@pytest.fixture(scope="module")
def bodies() -> dict[str, dict]:
    return {kind: _body(kind) for kind in KINDS}


def _of_type(body: dict, type_: str) -> dict[str, dict]:
    return {k: r for k, r in body["Resources"].items() if r["Type"] == type_}


@pytest.mark.parametrize("kind", KINDS)
def test_cfn_lint_finds_nothing_in_any_supported_region(kind):
    config = build_config({"endpoint_kind": kind})
    text = endpoint_template.build(config).to_yaml()
    matches = cfnlint.api.lint(text, config=cfnlint.api.ManualArgs(regions=list(config.regions)))
    assert not matches, f"{TEMPLATE_NAME} ({kind}): " + "; ".join(str(m) for m in matches)


def test_cfn_lint_catches_a_broken_endpoint_config():
    # The gate is only evidence if it can fail: a misspelt property must be reported.
    config = build_config()
    body = _body("async")
    body["Resources"]["EndpointConfig"]["Properties"]["KmsKeyID"] = {"Ref": "KmsKeyArn"}
    matches = cfnlint.api.lint(json.dumps(body), config=cfnlint.api.ManualArgs(regions=["us-east-1"]))
    assert any("KmsKeyID" in str(m) for m in matches), config


@pytest.mark.parametrize("kind", KINDS)
def test_every_taggable_resource_has_project_and_required_tags(bodies, kind):
    config = build_config({"endpoint_kind": kind})
    wanted = {
        tagging.PROJECT_NAME_TAG: {"Ref": tagging.PROJECT_NAME_PARAM},
        tagging.PROJECT_ID_TAG: {"Ref": tagging.PROJECT_ID_PARAM},
        **{t.key: {"Ref": tagging.tag_parameter_name(t.key)} for t in config.required_tags},
    }
    checked = 0
    for logical_id, resource in bodies[kind]["Resources"].items():
        if resource["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy":
            continue  # not taggable
        tags = {t["Key"]: t["Value"] for t in resource["Properties"].get("Tags", [])}
        for key, value in wanted.items():
            assert tags.get(key) == value, (
                f"{TEMPLATE_NAME} ({kind}) resource {logical_id}: tag {key} should be {value}, is {tags.get(key)}"
            )
        checked += 1
    assert checked >= (7 if kind == "async" else 3)


@pytest.mark.parametrize("kind", KINDS)
def test_sagemaker_resources_exist_and_endpoint_config_uses_the_key(bodies, kind):
    body = bodies[kind]
    for type_ in SAGEMAKER_TYPES:
        assert len(_of_type(body, type_)) == 1, f"{TEMPLATE_NAME} ({kind}): one {type_} expected"
    props = body["Resources"]["EndpointConfig"]["Properties"]
    assert props.get("KmsKeyId") == {"Ref": "KmsKeyArn"}, f"{TEMPLATE_NAME} ({kind}) resource EndpointConfig: KmsKeyId"
    container = body["Resources"]["Model"]["Properties"]["PrimaryContainer"]
    assert container == {"ModelPackageName": {"Ref": "ModelPackageArn"}}, f"{TEMPLATE_NAME} ({kind}) resource Model"


def test_async_outputs_and_both_topics_encrypted_and_distinct(bodies):
    body = bodies["async"]
    output = body["Resources"]["EndpointConfig"]["Properties"]["AsyncInferenceConfig"]["OutputConfig"]
    where = f"{TEMPLATE_NAME} (async) resource EndpointConfig"
    assert output["KmsKeyId"] == {"Ref": "KmsKeyArn"}, f"{where}: output KmsKeyId"
    for path in ("S3OutputPath", "S3FailurePath"):
        assert output[path]["Fn::Sub"].startswith("s3://${ArtifactBucket}/"), f"{where}: {path}"
    assert output["S3OutputPath"] != output["S3FailurePath"], f"{where}: output and failure share a path"
    notes = output["NotificationConfig"]
    assert notes["SuccessTopic"] == {"Ref": "SuccessTopic"}, f"{where}: success goes to {notes['SuccessTopic']}"
    assert notes["ErrorTopic"] == {"Ref": "ErrorTopic"}, f"{where}: errors go to {notes['ErrorTopic']}"
    topics = _of_type(body, "AWS::SNS::Topic")
    assert set(topics) == {"SuccessTopic", "ErrorTopic"}
    for logical_id, topic in topics.items():
        assert topic["Properties"].get("KmsMasterKeyId") == {"Ref": "KmsKeyArn"}, (
            f"{TEMPLATE_NAME} (async) resource {logical_id}: not encrypted with the customer key"
        )
    names = {json.dumps(t["Properties"]["TopicName"]) for t in topics.values()}
    assert len(names) == 2, f"{TEMPLATE_NAME} (async): the two topics share a name"
    assert {"AsyncOutputPath", "SuccessTopicArn", "ErrorTopicArn", "EndpointName"} <= set(body["Outputs"])


def test_async_scales_to_zero_in_staging_and_back_up_on_backlog(bodies):
    body = bodies["async"]
    target = body["Resources"]["ScalableTarget"]["Properties"]
    where = f"{TEMPLATE_NAME} (async) resource ScalableTarget"
    assert body["Conditions"]["IsStaging"] == {"Fn::Equals": [{"Ref": "StageName"}, "staging"]}
    assert target["MinCapacity"] == {"Fn::If": ["IsStaging", 0, {"Ref": "MinCapacity"}]}, where
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount", where
    tracking = body["Resources"]["BacklogPerInstancePolicy"]["Properties"]
    metric = tracking["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    assert metric["MetricName"] == "ApproximateBacklogSizePerInstance", "resource BacklogPerInstancePolicy"
    alarm = body["Resources"]["BacklogWithoutCapacityAlarm"]["Properties"]
    assert alarm["MetricName"] == "HasBacklogWithoutCapacity", "resource BacklogWithoutCapacityAlarm"
    assert alarm["AlarmActions"] == [{"Ref": "ScaleFromZeroPolicy"}], "resource BacklogWithoutCapacityAlarm"
    step = body["Resources"]["ScaleFromZeroPolicy"]["Properties"]
    assert step["PolicyType"] == "StepScaling", "resource ScaleFromZeroPolicy"


def test_realtime_captures_data_under_the_key_and_has_no_async_parts(bodies):
    body = bodies["realtime"]
    props = body["Resources"]["EndpointConfig"]["Properties"]
    where = f"{TEMPLATE_NAME} (realtime) resource EndpointConfig"
    assert "AsyncInferenceConfig" not in props, where
    capture = props["DataCaptureConfig"]
    assert capture["KmsKeyId"] == {"Ref": "KmsKeyArn"}, f"{where}: data capture key"
    assert capture["DestinationS3Uri"]["Fn::Sub"].startswith("s3://${ArtifactBucket}/"), where
    assert capture["EnableCapture"] is True, where
    assert not _of_type(body, "AWS::SNS::Topic"), f"{TEMPLATE_NAME} (realtime): topics"
    assert not _of_type(body, "AWS::ApplicationAutoScaling::ScalableTarget")


@pytest.mark.parametrize("kind", KINDS)
def test_every_parameter_is_constrained(bodies, kind):
    for name, parameter in bodies[kind]["Parameters"].items():
        constrained = {"AllowedPattern", "AllowedValues", "MinValue"} & set(parameter)
        assert constrained, f"{TEMPLATE_NAME} ({kind}) parameter {name} accepts anything"


def test_names_fit_their_service_limits():
    for logical_id, name in endpoint_template.names().items():
        assert name.fits(), f"{TEMPLATE_NAME} resource {logical_id}: {name.longest()!r} exceeds {name.limit}"
    # The longest model name uses the whole 63-character budget: one more character fails.
    assert len(endpoint_template.names()["Model"].longest()) == 63


@mock_aws
def test_async_template_deploys_on_moto_and_reads_back_through_sagemaker():
    region = "us-east-1"
    key = boto3.client("kms", region_name=region).create_key()["KeyMetadata"]["Arn"]
    bucket = "mlops-p-abcdefabcdef-123456789012"
    boto3.client("s3", region_name=region).create_bucket(Bucket=bucket)
    sm = boto3.client("sagemaker", region_name=region)
    group = "fraud-custom-project-p-abcdefabcdef"
    sm.create_model_package_group(ModelPackageGroupName=group)
    package = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    parameters = {
        "SageMakerProjectName": "fraud-custom-project",
        "SageMakerProjectId": "p-abcdefabcdef",
        "StageName": "staging",
        "ModelPackageArn": package,
        "ConfigHash": "abc1234",
        "ModelExecutionRoleArn": "arn:aws:iam::123456789012:role/mlops-custom-project-sagemaker",
        "KmsKeyArn": key,
        "ArtifactBucket": bucket,
        "TagProject": "fraud",
        "TagEnv": "dev",
    }
    cf = boto3.client("cloudformation", region_name=region)
    cf.create_stack(
        StackName="fraud-custom-project-p-abcdefabcdef-deploy-staging",
        TemplateBody=endpoint_template.build(build_config()).to_json(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
    )
    stack = cf.describe_stacks(StackName="fraud-custom-project-p-abcdefabcdef-deploy-staging")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}

    endpoint = sm.describe_endpoint(EndpointName=outputs["EndpointName"])
    assert endpoint["EndpointStatus"] == "InService"
    config = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    assert config["KmsKeyId"] == key, "EndpointConfig KmsKeyId"
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    assert output["KmsKeyId"] == key
    assert output["S3OutputPath"] == outputs["AsyncOutputPath"]
    assert output["S3OutputPath"].startswith(f"s3://{bucket}/")
    assert output["NotificationConfig"] == {
        "SuccessTopic": outputs["SuccessTopicArn"],
        "ErrorTopic": outputs["ErrorTopicArn"],
    }
    assert outputs["SuccessTopicArn"] != outputs["ErrorTopicArn"]
    variant = config["ProductionVariants"][0]
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert model["ExecutionRoleArn"] == parameters["ModelExecutionRoleArn"]

    sns = boto3.client("sns", region_name=region)
    for arn in (outputs["SuccessTopicArn"], outputs["ErrorTopicArn"]):
        attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        assert attributes.get("KmsMasterKeyId") == key, f"topic {arn} not encrypted with the key"
    for arn in (endpoint["EndpointArn"], config["EndpointConfigArn"], model["ModelArn"]):
        tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
        assert tags.get("project") == "fraud" and tags.get("env") == "dev", f"{arn}: {tags}"
        assert tags.get(tagging.PROJECT_ID_TAG) == "p-abcdefabcdef", f"{arn}: {tags}"
