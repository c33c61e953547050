"""Environment contract: what is missing or malformed stops the build with one line."""

import pytest
from offline import offline_aws, project_tags_client, sample_env

from pipelines.settings import ProjectSettings, ProjectTagsError, SettingsError, read_project_tags


@pytest.mark.parametrize(
    "name",
    ["SAGEMAKER_PROJECT_ARN", "ARTIFACT_BUCKET", "KMS_KEY_ARN", "REQUIRED_TAGS", "SAGEMAKER_PIPELINE_ROLE_ARN"],
)
def test_missing_variable_named(name):
    with pytest.raises(SettingsError, match=f"^{name} is not set") as error:
        ProjectSettings.from_env(sample_env(**{name: None}))
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    "value, message",
    [
        ('{"project": "fraud", "env": ""}', "required tag 'env' has no value"),
        ("project=fraud", "not valid JSON"),
        ("{}", "non-empty JSON object"),
        ('{"sagemaker:x": "y"}', "reserved prefix"),
    ],
)
def test_bad_required_tags(value, message):
    with pytest.raises(SettingsError, match=message):
        ProjectSettings.from_env(sample_env(REQUIRED_TAGS=value))


def test_group_name_must_follow_project():
    with pytest.raises(SettingsError, match="MODEL_PACKAGE_GROUP_NAME"):
        ProjectSettings.from_env(sample_env(MODEL_PACKAGE_GROUP_NAME="other-p-abcdef123456"))


def test_unreadable_project_tags_reported():
    settings = ProjectSettings.from_env(sample_env())
    with offline_aws(settings) as session:
        client = project_tags_client(session, settings, error_code="AccessDeniedException")
        with pytest.raises(ProjectTagsError, match="cannot read the tags of project .*AccessDeniedException"):
            read_project_tags(client, settings)


def test_project_tag_disagreement_reported():
    settings = ProjectSettings.from_env(sample_env())
    with offline_aws(settings) as session:
        client = project_tags_client(
            session, settings, project_tags=[{"Key": "sagemaker:project-id", "Value": "p-zzzzzzzzzzzz"}]
        )
        with pytest.raises(ProjectTagsError, match="sagemaker:project-id"):
            read_project_tags(client, settings)
