"""`run-pipeline` and `get-pipeline-definition` against moto's SageMaker pipelines API."""

import json

import pytest
from offline import offline_aws, project_tags_client, recorded_telemetry, sample_env

from pipelines.run_pipeline import get_pipeline_definition_main, run_pipeline_main
from pipelines.settings import ProjectSettings


@pytest.fixture
def project(monkeypatch):
    """(settings, boto3 session in moto, SageMaker client answering the project's ListTags)."""
    env = sample_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = ProjectSettings.from_env(env)
    with recorded_telemetry(), offline_aws(settings) as session:
        yield settings, session, project_tags_client(session, settings)


def test_run_pipeline_upserts_with_tags(project, capsys):
    settings, session, client = project
    code = run_pipeline_main(["--no-start"], boto_session=session, sagemaker_client=client)
    assert code == 0, capsys.readouterr().err
    sagemaker = session.client("sagemaker")
    described = sagemaker.describe_pipeline(PipelineName=settings.prefix)
    tags = sagemaker.list_tags(ResourceArn=described["PipelineArn"])["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {
        "sagemaker:project-name": "fraud-custom-project",
        "sagemaker:project-id": "p-abcdef123456",
        "project": "fraud",
        "env": "dev",
    }
    assert described["RoleArn"] == settings.role_arn


def test_get_definition_prints_json(project, capsys):
    _settings, session, client = project
    code = get_pipeline_definition_main([], boto_session=session, sagemaker_client=client)
    out = capsys.readouterr()
    assert code == 0, out.err
    assert json.loads(out.out)["Version"] == "2020-12-01"


def test_missing_variable_one_line(monkeypatch, capsys):
    for key, value in sample_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("KMS_KEY_ARN")
    code = run_pipeline_main(["--no-start"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("run-pipeline: error: KMS_KEY_ARN is not set") and err.count("\n") == 1, err
