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


from troposphere import (
    Equals,
    GetAtt,
    If,
    Output,
    Parameter,
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
from troposphere.cloudwatch import Alarm, MetricDimension as AlarmDimension
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

from generator import encryption, naming, tagging
from generator.config import INSTANCE_TYPE_RE, PROJECT_NAME_MAX, Config, EndpointKind

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
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"

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


def _add_parameters(template: Template, config: Config) -> dict:
    p = {}

    def add(name: str, group: str, **kwargs) -> Ref:
        parameter = template.add_parameter(Parameter(name, **kwargs))
        template.add_parameter_to_group(parameter, group)
        p[name] = Ref(parameter)
        return p[name]

    add(
        tagging.PROJECT_NAME_PARAM,
        "Project",
        Type="String",
        MaxLength=PROJECT_NAME_MAX,
        AllowedPattern=naming.project_name_pattern(config),
        ConstraintDescription=f"a SageMaker project name ending in -{config.project_suffix}",
        Description="Name of the SageMaker project",
    )
    add(
        tagging.PROJECT_ID_PARAM,
        "Project",
        Type="String",
        AllowedPattern=naming.PROJECT_ID_PATTERN,
        ConstraintDescription="p- followed by 12 lowercase letters and digits",
        Description="Id of the SageMaker project",
    )
    add(
        "StageName",
        "Project",
        Type="String",
        AllowedValues=list(STAGES),
        Description="Deployment stage; staging scales to zero instances when idle",
    )
    add(
        "ModelPackageArn",
        "Model",
        Type="String",
        AllowedPattern=MODEL_PACKAGE_ARN_PATTERN,
        ConstraintDescription="the ARN of a versioned model package",
        Description="Approved model package to deploy (build.py picks the newest)",
    )
    add(
        "ConfigHash",
        "Model",
        Type="String",
        AllowedPattern=rf"^[0-9a-f]{{{CONFIG_HASH_LENGTH}}}$",
        ConstraintDescription=f"{CONFIG_HASH_LENGTH} lowercase hex digits",
        Description="Hash of this template and its parameters: names the immutable model and endpoint config",
    )
    add(
        "ModelExecutionRoleArn",
        "Model",
        Type="String",
        AllowedPattern=ROLE_ARN_PATTERN,
        ConstraintDescription="an IAM role ARN",
        Description="Role the model's containers run as",
    )
    add(
        "KmsKeyArn",
        "Encryption",
        Type="String",
        AllowedPattern=encryption.KEY_ARN_PATTERN,
        ConstraintDescription="a KMS key ARN",
        Description="Customer-managed key: instance volumes, outputs, data capture, topics",
    )
    add(
        "ArtifactBucket",
        "Encryption",
        Type="String",
        AllowedPattern=BUCKET_PATTERN,
        ConstraintDescription="an S3 bucket name",
        Description="The project's artifact bucket (outputs and data capture go here)",
    )
    add(
        "EndpointInstanceType",
        "Capacity",
        Type="String",
        Default=config.instance_types.endpoint,
        AllowedPattern=INSTANCE_TYPE_RE.pattern,
        ConstraintDescription="an instance type such as ml.m5.large",
        Description="Instance type of the endpoint",
    )
    add(
        "EndpointInstanceCount",
        "Capacity",
        Type="Number",
        Default="1",
        MinValue=1,
        MaxValue=100,
        Description="Instances at creation (SageMaker needs at least one to create an endpoint)",
    )
    if config.endpoint_kind is EndpointKind.ASYNC:
        add(
            "MinCapacity",
            "Capacity",
            Type="Number",
            Default="0",
            MinValue=0,
            MaxValue=100,
            Description="Prod: fewest instances autoscaling keeps (staging always scales to 0)",
        )
        add(
            "MaxCapacity",
            "Capacity",
            Type="Number",
            Default="2",
            MinValue=1,
            MaxValue=100,
            Description="Most instances autoscaling starts",
        )
    p["tags"] = tagging.add_required_tag_parameters(template, config)
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
            Output("AsyncInputPath", Value=_s3_path("async-input"),
                   Description="Where clients upload requests (SSE-KMS with the project key)"),
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
    resource_id = Sub(
        "endpoint/${Name}/variant/" + VARIANT_NAME, Name=endpoint_name
    )
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
        Output("EndpointName", Value=GetAtt(endpoint, "EndpointName"),
               Description="Name clients invoke")
    )
    template.add_output(Output("EndpointKind", Value=config.endpoint_kind.value))
    if config.endpoint_kind is EndpointKind.ASYNC:
        template.add_condition(IS_STAGING, Equals(p["StageName"], "staging"))
        _autoscaling(template, config, p, n, endpoint)
    return template
