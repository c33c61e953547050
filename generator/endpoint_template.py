"""The model-deploy seed code's CloudFormation template: approved model -> encrypted endpoint.

One template per endpoint kind (``Config.endpoint_kind``), deployed twice by the project's
deploy pipeline (StageName ``staging`` then ``prod``) with the configuration files that the
seed code's ``build.py`` writes.

- ``async`` (default): asynchronous inference with output, failure paths and notifications
  encrypted with the customer key, and autoscaling down to zero instances when idle.
- ``realtime``: a real-time endpoint with data capture encrypted with the customer key.

Model and EndpointConfig are immutable in SageMaker: any property change makes CloudFormation
replace them, which it refuses to do for a resource with a fixed name. Their names therefore end
in ``ConfigHash`` (build.py hashes the template and parameters), so a change gets a new name and
an unchanged deployment is a no-op. The endpoint keeps a stable name that clients use.
"""

from __future__ import annotations

import hashlib

from troposphere import (
    Equals,
    GetAtt,
    If,
    Output,
    Ref,
    Sub,
    Tags,
    Template,
)
from troposphere.applicationautoscaling import (
    CustomizedMetricSpecification,
    MetricDimension,
    ScalableTarget,
    ScalingPolicy,
    StepAdjustment,
    StepScalingPolicyConfiguration,
    TargetTrackingScalingPolicyConfiguration,
)
from troposphere.cloudwatch import Alarm
from troposphere.cloudwatch import MetricDimension as AlarmDimension
from troposphere.sagemaker import (
    AsyncInferenceClientConfig,
    AsyncInferenceConfig,
    AsyncInferenceNotificationConfig,
    AsyncInferenceOutputConfig,
    CaptureContentTypeHeader,
    CaptureOption,
    ContainerDefinition,
    DataCaptureConfig,
    Endpoint,
    EndpointConfig,
    Model,
    ProductionVariant,
)
from troposphere.sns import Topic

from generator import encryption, naming, tagging, template_text
from generator.buildspecs import ENDPOINT_TEMPLATE_SHA256_VARIABLE
from generator.config import INSTANCE_TYPE_RE, PROJECT_NAME_MAX, Config, EndpointKind
from generator.parameters import BUCKET_NAME_PATTERN, ParameterSpec, add_parameters

STAGES = ("staging", "prod")
VARIANT_NAME = "AllTraffic"
CONFIG_HASH_LENGTH = naming.MAX_VALUE_LENGTH["ConfigHash"]
IS_STAGING = "IsStaging"

# Version numbers are capped at 6 digits so that names built from them stay provable.
MODEL_PACKAGE_ARN_PATTERN = (
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:model-package/"
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}/\d{1,6}$"
)
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::\d{12}:role/[a-zA-Z0-9+=,.@_/-]{1,512}$"
# The form's upper bound for every instance count (initial, autoscaling minimum and maximum).
MAX_INSTANCES = 100

STAGE_PREFIX = naming.PROJECT_PREFIX + "-${StageName}"


def names() -> dict[str, naming.DerivedName]:
    """Every name the endpoint stack creates, by resource logical id."""
    return {
        "Endpoint": naming.DerivedName(STAGE_PREFIX, "sagemaker-endpoint"),
        "Model": naming.DerivedName(STAGE_PREFIX + "-${ConfigHash}", "sagemaker-model"),
        "EndpointConfig": naming.DerivedName(STAGE_PREFIX + "-${ConfigHash}", "sagemaker-endpoint-config"),
        "SuccessTopic": naming.DerivedName(STAGE_PREFIX + "-async-success", "sns-topic"),
        "ErrorTopic": naming.DerivedName(STAGE_PREFIX + "-async-error", "sns-topic"),
        "BacklogWithoutCapacityAlarm": naming.DerivedName(
            STAGE_PREFIX + "-backlog-without-capacity", "cloudwatch-alarm"
        ),
    }


class EndpointDataCaptureConfig(DataCaptureConfig):
    # troposphere 4.11 maps EndpointConfig.DataCaptureConfig to the *monitoring* schedule's
    # DataCaptureConfig (DestinationS3Uri/KmsKeyId/GenerateInferenceId only); this is the
    # endpoint config's shape from the CloudFormation schema. cfn-lint checks it.
    props = {
        "CaptureContentTypeHeader": (CaptureContentTypeHeader, False),
        "CaptureOptions": ([CaptureOption], True),
        "DestinationS3Uri": (str, True),
        "EnableCapture": (bool, False),
        "InitialSamplingPercentage": (int, True),
        "KmsKeyId": (str, False),
    }


STAGE_TEXT = {
    EndpointKind.ASYNC: "Deployment stage; staging scales to zero instances when idle",
    EndpointKind.REALTIME: "Deployment stage (staging, then prod after manual approval)",
}


def _parameter_specs(config: Config) -> list[ParameterSpec]:
    """What the deploy pipeline passes (build.py writes the values), in console order."""
    specs = [
        ParameterSpec(
            tagging.PROJECT_NAME_PARAM,
            "Name of the SageMaker project",
            "Project",
            max_length=PROJECT_NAME_MAX,
            allowed_pattern=naming.project_name_pattern(config),
            constraint_description=f"a SageMaker project name ending in -{config.project_suffix}",
        ),
        ParameterSpec(
            tagging.PROJECT_ID_PARAM,
            "Id of the SageMaker project",
            "Project",
            allowed_pattern=naming.PROJECT_ID_PATTERN,
            constraint_description="p- followed by 12 lowercase letters and digits",
        ),
        ParameterSpec("StageName", STAGE_TEXT[config.endpoint_kind], "Project", allowed_values=STAGES),
        ParameterSpec(
            "ModelPackageArn",
            "Approved model package to deploy (build.py picks the newest)",
            "Model",
            allowed_pattern=MODEL_PACKAGE_ARN_PATTERN,
            constraint_description="the ARN of a versioned model package",
        ),
        ParameterSpec(
            "ConfigHash",
            "Hash of this template and its parameters: names the immutable model and endpoint config",
            "Model",
            allowed_pattern=rf"^[0-9a-f]{{{CONFIG_HASH_LENGTH}}}$",
            constraint_description=f"{CONFIG_HASH_LENGTH} lowercase hex digits",
        ),
        ParameterSpec(
            "ModelExecutionRoleArn",
            "Role the model's containers run as",
            "Model",
            allowed_pattern=ROLE_ARN_PATTERN,
            constraint_description="an IAM role ARN",
        ),
        ParameterSpec(
            "KmsKeyArn",
            "Customer-managed key: instance volumes, outputs, data capture, topics",
            "Encryption",
            allowed_pattern=encryption.KEY_ARN_PATTERN,
            constraint_description="a KMS key ARN",
        ),
        ParameterSpec(
            "ArtifactBucket",
            "The project's artifact bucket (outputs and data capture go here)",
            "Encryption",
            allowed_pattern=BUCKET_NAME_PATTERN,
            constraint_description="an S3 bucket name",
        ),
        ParameterSpec(
            "EndpointInstanceType",
            "Instance type of the endpoint",
            "Capacity",
            default=config.instance_types.endpoint,
            allowed_pattern=INSTANCE_TYPE_RE.pattern,
            constraint_description="an instance type such as ml.m5.large",
        ),
        _count(
            "EndpointInstanceCount",
            1,
            1,
            "Instances at creation (SageMaker needs at least one to create an endpoint)",
        ),
    ]
    if config.endpoint_kind is EndpointKind.ASYNC:
        specs += [
            _count("MinCapacity", 0, 0, "Prod: fewest instances autoscaling keeps (staging always scales to 0)"),
            _count("MaxCapacity", 2, 1, "Most instances autoscaling starts"),
        ]
    return [*specs, *tagging.required_tag_specs(config)]


def _count(name: str, default: int, minimum: int, description: str) -> ParameterSpec:
    return ParameterSpec(
        name,
        description,
        "Capacity",
        type="Number",
        default=str(default),
        min_value=minimum,
        max_value=MAX_INSTANCES,
    )


def _add_parameters(template: Template, config: Config) -> dict:
    p = add_parameters(template, _parameter_specs(config))
    p["tags"] = {tag.key: p[tagging.tag_parameter_name(tag.key)] for tag in config.required_tags}
    return p


def _tags(config: Config, p: dict) -> Tags:
    return tagging.project_tags(config, p["tags"], ("sagemaker:deployment-stage", p["StageName"]))


def _s3_path(kind: str) -> Sub:
    return Sub("s3://${ArtifactBucket}/endpoints/" + STAGE_PREFIX + "/" + kind)


def _async_resources(template: Template, config: Config, p: dict, n: dict) -> AsyncInferenceConfig:
    topics = {}
    for logical_id, what in (("SuccessTopic", "succeeded"), ("ErrorTopic", "failed")):
        topics[logical_id] = template.add_resource(
            Topic(
                logical_id,
                TopicName=n[logical_id].sub(),
                DisplayName=f"Async inference {what}",
                KmsMasterKeyId=p["KmsKeyArn"],
                Tags=_tags(config, p),
            )
        )
    template.add_output(
        [
            Output(
                "AsyncInputPath",
                Value=_s3_path("async-input"),
                Description="Where clients upload requests (SSE-KMS with the project key)",
            ),
            Output("AsyncOutputPath", Value=_s3_path("async-output")),
            Output("AsyncFailurePath", Value=_s3_path("async-failure")),
            Output("SuccessTopicArn", Value=Ref(topics["SuccessTopic"])),
            Output("ErrorTopicArn", Value=Ref(topics["ErrorTopic"])),
        ]
    )
    return AsyncInferenceConfig(
        ClientConfig=AsyncInferenceClientConfig(MaxConcurrentInvocationsPerInstance=4),
        OutputConfig=AsyncInferenceOutputConfig(
            S3OutputPath=_s3_path("async-output"),
            S3FailurePath=_s3_path("async-failure"),
            KmsKeyId=p["KmsKeyArn"],
            NotificationConfig=AsyncInferenceNotificationConfig(
                SuccessTopic=Ref(topics["SuccessTopic"]),
                ErrorTopic=Ref(topics["ErrorTopic"]),
            ),
        ),
    )


def _autoscaling(template: Template, config: Config, p: dict, n: dict, endpoint: Endpoint) -> None:
    endpoint_name = GetAtt(endpoint, "EndpointName")
    resource_id = Sub("endpoint/${Name}/variant/" + VARIANT_NAME, Name=endpoint_name)
    common = dict(
        ResourceId=resource_id,
        ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        ServiceNamespace="sagemaker",
    )
    # No RoleARN: Application Auto Scaling uses its service-linked role for SageMaker.
    target = template.add_resource(
        ScalableTarget(
            "ScalableTarget",
            MinCapacity=If(IS_STAGING, 0, p["MinCapacity"]),
            MaxCapacity=p["MaxCapacity"],
            Tags=_tags(config, p),
            **common,
        )
    )
    template.add_resource(
        ScalingPolicy(
            "BacklogPerInstancePolicy",
            PolicyName=Sub(STAGE_PREFIX + "-backlog-per-instance"),
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=Ref(target),
            TargetTrackingScalingPolicyConfiguration=TargetTrackingScalingPolicyConfiguration(
                TargetValue=5.0,
                CustomizedMetricSpecification=CustomizedMetricSpecification(
                    MetricName="ApproximateBacklogSizePerInstance",
                    Namespace="AWS/SageMaker",
                    Dimensions=[MetricDimension(Name="EndpointName", Value=endpoint_name)],
                    Statistic="Average",
                ),
                ScaleInCooldown=600,
                ScaleOutCooldown=300,
            ),
        )
    )
    # Target tracking cannot leave zero: with no instance the per-instance backlog is
    # undefined. A step policy on HasBacklogWithoutCapacity starts the first instance.
    step = template.add_resource(
        ScalingPolicy(
            "ScaleFromZeroPolicy",
            PolicyName=Sub(STAGE_PREFIX + "-scale-from-zero"),
            PolicyType="StepScaling",
            ScalingTargetId=Ref(target),
            StepScalingPolicyConfiguration=StepScalingPolicyConfiguration(
                AdjustmentType="ChangeInCapacity",
                Cooldown=300,
                MetricAggregationType="Average",
                StepAdjustments=[StepAdjustment(MetricIntervalLowerBound=0, ScalingAdjustment=1)],
            ),
        )
    )
    template.add_resource(
        Alarm(
            "BacklogWithoutCapacityAlarm",
            AlarmName=n["BacklogWithoutCapacityAlarm"].sub(),
            AlarmDescription="Requests wait and no instance runs: start one",
            MetricName="HasBacklogWithoutCapacity",
            Namespace="AWS/SageMaker",
            Dimensions=[AlarmDimension(Name="EndpointName", Value=endpoint_name)],
            Statistic="Average",
            Period=60,
            EvaluationPeriods=2,
            DatapointsToAlarm=2,
            Threshold=1,
            ComparisonOperator="GreaterThanOrEqualToThreshold",
            TreatMissingData="missing",
            AlarmActions=[Ref(step)],
            Tags=_tags(config, p),
        )
    )


def build(config: Config) -> Template:
    template = Template(
        Description=(
            f"Model deploy ({config.endpoint_kind.value} endpoint): the newest approved model "
            "of a SageMaker project, encrypted with the project's customer key"
        )
    )
    p = _add_parameters(template, config)
    n = names()

    model = template.add_resource(
        Model(
            "Model",
            ModelName=n["Model"].sub(),
            ExecutionRoleArn=p["ModelExecutionRoleArn"],
            PrimaryContainer=ContainerDefinition(ModelPackageName=p["ModelPackageArn"]),
            # The built-in XGBoost container serves a registered model: SageMaker loads the
            # artifact and moves async payloads, so the container itself needs no network.
            EnableNetworkIsolation=True,
            Tags=_tags(config, p),
        )
    )
    config_kwargs: dict = {}
    if config.endpoint_kind is EndpointKind.ASYNC:
        config_kwargs["AsyncInferenceConfig"] = _async_resources(template, config, p, n)
    else:
        config_kwargs["DataCaptureConfig"] = EndpointDataCaptureConfig(
            EnableCapture=True,
            InitialSamplingPercentage=100,
            DestinationS3Uri=_s3_path("data-capture"),
            KmsKeyId=p["KmsKeyArn"],
            CaptureOptions=[CaptureOption(CaptureMode="Input"), CaptureOption(CaptureMode="Output")],
            CaptureContentTypeHeader=CaptureContentTypeHeader(CsvContentTypes=["text/csv"]),
        )
        template.add_output(Output("DataCapturePath", Value=_s3_path("data-capture")))
    endpoint_config = template.add_resource(
        EndpointConfig(
            "EndpointConfig",
            EndpointConfigName=n["EndpointConfig"].sub(),
            # Encrypts the instances' ML storage volumes (instance types with local NVMe
            # storage, e.g. ml.*d, refuse a key: pick another type).
            KmsKeyId=p["KmsKeyArn"],
            ProductionVariants=[
                ProductionVariant(
                    VariantName=VARIANT_NAME,
                    ModelName=GetAtt(model, "ModelName"),
                    InstanceType=p["EndpointInstanceType"],
                    InitialInstanceCount=p["EndpointInstanceCount"],
                    InitialVariantWeight=1.0,
                )
            ],
            Tags=_tags(config, p),
            **config_kwargs,
        )
    )
    endpoint = template.add_resource(
        Endpoint(
            "Endpoint",
            EndpointName=n["Endpoint"].sub(),
            EndpointConfigName=GetAtt(endpoint_config, "EndpointConfigName"),
            Tags=_tags(config, p),
        )
    )
    template.add_output(
        Output("EndpointName", Value=GetAtt(endpoint, "EndpointName"), Description="Name clients invoke")
    )
    template.add_output(Output("EndpointKind", Value=config.endpoint_kind.value))
    if config.endpoint_kind is EndpointKind.ASYNC:
        template.add_condition(IS_STAGING, Equals(p["StageName"], "staging"))
        _autoscaling(template, config, p, n, endpoint)
    return template


def digest(config: Config) -> tuple[str, str]:
    """The deploy gate's environment variable naming this template: the SHA-256 of its text
    without comment lines (the generated-by header)."""
    text = template_text.to_yaml(build(config))
    return ENDPOINT_TEMPLATE_SHA256_VARIABLE, hashlib.sha256(text.encode("utf-8")).hexdigest()
