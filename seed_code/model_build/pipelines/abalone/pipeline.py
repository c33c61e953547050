"""The abalone pipeline: preprocess -> train -> evaluate -> MSE condition -> register.

Every job carries the project tags and all required tags and encrypts its volume and output
with the project's key; all data stays in the project's artifact bucket.
"""

from __future__ import annotations

from pathlib import Path

from sagemaker import image_uris
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.model_metrics import MetricsSource, ModelMetrics
from sagemaker.processing import ProcessingInput, ProcessingOutput, ScriptProcessor
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.workflow.condition_step import ConditionStep
from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
from sagemaker.workflow.execution_variables import ExecutionVariables
from sagemaker.workflow.functions import Join, JsonGet
from sagemaker.workflow.parameters import ParameterString
from sagemaker.workflow.pipeline import Pipeline
from sagemaker.workflow.pipeline_context import PipelineSession
from sagemaker.workflow.properties import PropertyFile
from sagemaker.workflow.step_collections import RegisterModel
from sagemaker.workflow.steps import ProcessingStep, TrainingStep

from pipelines.abalone import model
from pipelines.settings import ProjectSettings

HERE = Path(__file__).resolve().parent
CONTAINER_BASE = "/opt/ml/processing"
APPROVAL_PENDING = "PendingManualApproval"
STEP_NAMES = (
    "PreprocessAbaloneData",
    "TrainAbaloneModel",
    "EvaluateAbaloneModel",
    "CheckMSEAbaloneEvaluation",
    "RegisterAbaloneModel",
)


def get_pipeline(settings: ProjectSettings, tags: list[dict[str, str]], session: PipelineSession) -> Pipeline:
    """The pipeline definition; `tags` go on every job and on the model package."""
    prefix = settings.prefix
    key = settings.kms_key_arn
    bucket_root = f"s3://{settings.bucket}/{prefix}"

    processing_instance_type = ParameterString(
        "ProcessingInstanceType", default_value=settings.processing_instance_type
    )
    training_instance_type = ParameterString("TrainingInstanceType", default_value=settings.training_instance_type)
    approval_status = ParameterString("ModelApprovalStatus", default_value=APPROVAL_PENDING)
    input_data = ParameterString("InputDataUrl", default_value=settings.input_data_uri)

    # Tags, volume key and output key are set on every job: SageMaker does not inherit
    # either from the pipeline, and the roles' tag guardrail refuses an untagged create.
    job_security = {
        "role": settings.role_arn,
        "sagemaker_session": session,
        "tags": tags,
        "volume_kms_key": key,
        "output_kms_key": key,
    }

    preprocessor = SKLearnProcessor(
        framework_version=model.SKLEARN_VERSION,
        instance_type=processing_instance_type,
        instance_count=1,
        base_job_name=f"{prefix}-preprocess",
        **job_security,
    )
    step_process = ProcessingStep(
        name=STEP_NAMES[0],
        step_args=preprocessor.run(
            code=str(HERE / "preprocess.py"),
            inputs=[ProcessingInput(source=input_data, destination=f"{CONTAINER_BASE}/input")],
            outputs=[
                ProcessingOutput(output_name=name, source=f"{CONTAINER_BASE}/{name}")
                for name in ("train", "validation", "test")
            ],
            kms_key=key,
        ),
    )

    xgboost_image = image_uris.retrieve(
        framework="xgboost",
        region=settings.region,
        version=model.XGBOOST_VERSION,
        instance_type=settings.training_instance_type,
    )
    estimator = Estimator(
        image_uri=xgboost_image,
        instance_type=training_instance_type,
        instance_count=1,
        output_path=f"{bucket_root}/models",
        base_job_name=f"{prefix}-train",
        # The built-in algorithm needs no network: SageMaker moves the data in and out.
        enable_network_isolation=True,
        # Debugger and profiler would write extra output and can start rule jobs that this
        # code does not tag; the seed model needs neither.
        disable_profiler=True,
        debugger_hook_config=False,
        **job_security,
    )
    estimator.set_hyperparameters(**model.HYPERPARAMETERS)
    outputs = step_process.properties.ProcessingOutputConfig.Outputs
    step_train = TrainingStep(
        name=STEP_NAMES[1],
        step_args=estimator.fit(
            inputs={
                channel: TrainingInput(s3_data=outputs[channel].S3Output.S3Uri, content_type="text/csv")
                for channel in ("train", "validation")
            }
        ),
    )

    # evaluate.py needs xgboost to load the model: it runs in the same image that trained it.
    evaluator = ScriptProcessor(
        image_uri=xgboost_image,
        command=["python3"],
        instance_type=processing_instance_type,
        instance_count=1,
        base_job_name=f"{prefix}-evaluate",
        **job_security,
    )
    # One folder per execution, so the registered model's metrics are never overwritten.
    evaluation_prefix = Join(on="/", values=[bucket_root, ExecutionVariables.PIPELINE_EXECUTION_ID, "evaluation"])
    evaluation_report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    step_eval = ProcessingStep(
        name=STEP_NAMES[2],
        step_args=evaluator.run(
            code=str(HERE / "evaluate.py"),
            inputs=[
                ProcessingInput(
                    source=step_train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination=f"{CONTAINER_BASE}/model",
                ),
                ProcessingInput(source=outputs["test"].S3Output.S3Uri, destination=f"{CONTAINER_BASE}/test"),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation",
                    source=f"{CONTAINER_BASE}/evaluation",
                    destination=evaluation_prefix,
                )
            ],
            kms_key=key,
        ),
        property_files=[evaluation_report],
    )

    evaluation_uri = Join(on="/", values=[evaluation_prefix, "evaluation.json"])
    step_register = RegisterModel(
        name=STEP_NAMES[4],
        estimator=estimator,
        model_data=step_train.properties.ModelArtifacts.S3ModelArtifacts,
        content_types=["text/csv"],
        response_types=["text/csv"],
        inference_instances=["ml.t2.medium", "ml.m5.large", "ml.m5.xlarge"],
        transform_instances=["ml.m5.large"],
        model_package_group_name=settings.model_package_group_name,
        approval_status=approval_status,
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(s3_uri=evaluation_uri, content_type="application/json")
        ),
        tags=tags,
    )

    step_condition = ConditionStep(
        name=STEP_NAMES[3],
        conditions=[
            ConditionLessThanOrEqualTo(
                left=JsonGet(
                    step_name=step_eval.name,
                    property_file=evaluation_report,
                    json_path=model.MSE_JSON_PATH,
                ),
                right=model.MSE_THRESHOLD,
            )
        ],
        if_steps=[step_register],
        else_steps=[],
    )

    return Pipeline(
        name=prefix,
        parameters=[processing_instance_type, training_instance_type, approval_status, input_data],
        steps=[step_process, step_train, step_eval, step_condition],
        sagemaker_session=session,
        # Without this the SDK keeps its default PipelineExperimentConfig(PIPELINE_NAME,
        # PIPELINE_EXECUTION_ID), and every execution creates SageMaker Experiments entities (an
        # experiment for the pipeline, a trial per execution, a trial component per job) as the
        # pipeline role, which no role of this project is allowed to do. The developer guide
        # documents None as the way to create no experiment and no run group for a pipeline
        # ("Amazon SageMaker Experiments Integration",
        # https://docs.aws.amazon.com/sagemaker/latest/dg/pipelines-experiments.html).
        # The definition then carries "PipelineExperimentConfig": null.
        pipeline_experiment_config=None,
    )
