"""The seed repositories as a team clones them: a `.gitignore` each, a notebook with nothing to copy in."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from generator import packaging, render

SEED_CODE = render.ROOT / "seed_code"
NOTEBOOK = SEED_CODE / "model_build" / "sagemaker-pipelines-project.ipynb"
NAME, ID = "fraud-custom-project", "p-abcdef123456"
ACCOUNT, REGION = "123456789012", "eu-west-1"
# What the project template's model-build CodeBuild project sets (docs/architecture.md, the contract).
BUILD_ENVIRONMENT = {
    "SAGEMAKER_PROJECT_NAME": NAME,
    "SAGEMAKER_PROJECT_ID": ID,
    "SAGEMAKER_PROJECT_ARN": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:project/{NAME}",
    "ARTIFACT_BUCKET": f"mlops-{ID}-{ACCOUNT}",
    "KMS_KEY_ARN": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "REQUIRED_TAGS": '{"project": "fraud", "env": "dev"}',
    "MODEL_PACKAGE_GROUP_NAME": f"{NAME}-{ID}",
    "SAGEMAKER_PIPELINE_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/{NAME}-{ID}-sagemaker",
    "PROCESSING_INSTANCE_TYPE": "ml.m5.large",
    "TRAINING_INSTANCE_TYPE": "ml.m5.2xlarge",
}


def _ignored(repository: Path, relative: str) -> bool:
    """What git itself says about `relative` under the repository's .gitignore."""
    completed = subprocess.run(
        ["git", "-c", "core.excludesFile=/dev/null", "check-ignore", "--no-index", "-q", relative],
        cwd=repository,
        check=False,
    )
    assert completed.returncode in (0, 1), completed
    return completed.returncode == 0


@pytest.fixture(params=["model_build", "model_deploy"])
def clone(request, tmp_path) -> Path:
    """The seed repository copied into a fresh git repository, as a team's first clone."""
    repository = tmp_path / request.param
    for relative in packaging.seed_files(SEED_CODE / request.param)[1]:
        (repository / relative).parent.mkdir(parents=True, exist_ok=True)
        (repository / relative).write_bytes((SEED_CODE / request.param / relative).read_bytes())
    subprocess.run(["git", "init", "-q"], cwd=repository, check=True)
    return repository


LOCAL_STATE = [
    "__pycache__/x.cpython-312.pyc",
    "pipelines/__pycache__/settings.cpython-312.pyc",
    ".venv/bin/python",
    "venv/pyvenv.cfg",
    ".pytest_cache/v/cache/lastfailed",
    ".ipynb_checkpoints/sagemaker-pipelines-project-checkpoint.ipynb",
    ".DS_Store",
]
WRITTEN_BY_RUNS = {
    "model_build": ["pipelines.egg-info/PKG-INFO", "build/lib/pipelines/__init__.py"],
    # build.py, `aws cloudformation package` and test/test.py, run by hand as the README shows.
    "model_deploy": [
        "build-result.json",
        "staging-config-export.json",
        "prod-config-export.json",
        "template-export.yml",
        "test-results.json",
        "staging-stack-outputs.json",
    ],
}


def test_each_seed_repository_ignores_local_state_and_nothing_it_ships(clone):
    assert (clone / ".gitignore").is_file(), f"{clone.name} has no .gitignore"
    for relative in [*LOCAL_STATE, *WRITTEN_BY_RUNS[clone.name]]:
        assert _ignored(clone, relative), f"{clone.name}: {relative} is not ignored"
    shipped = packaging.seed_files(SEED_CODE / clone.name)[1]
    assert ".gitignore" in shipped, "the seed zip leaves the .gitignore out"
    assert [f for f in shipped if _ignored(clone, f)] == [], "the .gitignore hides a file the seed ships"


# ---- the notebook -----------------------------------------------------------------------------


def _notebook() -> dict:
    return json.loads(NOTEBOOK.read_text(encoding="utf-8"))


def _code(notebook: dict) -> list[str]:
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def test_the_notebook_is_nbformat_4_json_with_nothing_to_copy_in():
    import nbformat

    notebook = _notebook()
    nbformat.validate(nbformat.from_dict(notebook))
    assert notebook["nbformat"] == 4
    code = "\n".join(_code(notebook))
    # The nine values the build gets from its CodeBuild project were once hand-filled here.
    assert not re.search(r"overrides\s*=|:\s*None,\s*#", code), "a hand-filled overrides table is back"
    assert not re.search(r"\b\d{12}\b|p-[a-z0-9]{12}|arn:aws:|YOUR_|CHANGE_?ME|xxxx", code, re.IGNORECASE), code
    markdown = " ".join("".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown")
    assert not re.search(r"copy them|fill (them )?in", markdown, re.IGNORECASE), markdown


def test_the_install_cell_installs_the_extras_the_notebook_uses():
    code = _code(_notebook())
    install = [line for source in code for line in source.splitlines() if line.lstrip().startswith("%pip install")]
    assert len(install) == 1 and "'.[local]'" in install[0], install
    assert any("local_run" in source for source in code), "the local extras are installed for the dry run"


def _settings_cell() -> str:
    return next(source for source in _code(_notebook()) if "def project_settings" in source)


# The notebook's settings cell run in a child process (the seed's `pipelines` package stays out of
# this one) against moto, with the project's model-build CodeBuild project holding the values.
RUN_CELL = textwrap.dedent(
    """
    import json, os, sys
    import boto3
    from moto import mock_aws

    sys.path.insert(0, sys.argv[1])
    cell, environment, build_project = json.loads(sys.stdin.read())
    with mock_aws():
        boto3.client("codebuild").create_project(
            name=build_project,
            source={"type": "CODECOMMIT", "location": "https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/r"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/amazonlinux-x86_64-standard:5.0",
                "computeType": "BUILD_GENERAL1_SMALL",
                "environmentVariables": [{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in environment.items()],
            },
            serviceRole="arn:aws:iam::123456789012:role/codebuild",
        )
        namespace = {}
        exec(cell, namespace)
    settings = namespace["settings"]
    print(json.dumps({name: str(value) for name, value in vars(settings).items()}))
    """
)


def _run_settings_cell(tmp_path: Path, env: dict[str, str], cwd_name: str = "work") -> subprocess.CompletedProcess:
    cwd = tmp_path / cwd_name
    cwd.mkdir()
    base = {
        "PATH": "/usr/bin:/bin",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "GIT_CEILING_DIRECTORIES": str(tmp_path),
    }
    payload = json.dumps([_settings_cell(), BUILD_ENVIRONMENT, f"{NAME}-{ID}-model-build"])
    return subprocess.run(
        [sys.executable, "-c", RUN_CELL, str(SEED_CODE / "model_build")],
        input=payload,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**base, **env},
        timeout=120,
    )


def _expected(**changes: str) -> dict[str, str]:
    return {
        "region": REGION,
        "project_name": NAME,
        "project_id": ID,
        "project_arn": BUILD_ENVIRONMENT["SAGEMAKER_PROJECT_ARN"],
        "bucket": BUILD_ENVIRONMENT["ARTIFACT_BUCKET"],
        "kms_key_arn": BUILD_ENVIRONMENT["KMS_KEY_ARN"],
        "required_tags": str((("project", "fraud"), ("env", "dev"))),
        "model_package_group_name": f"{NAME}-{ID}",
        "role_arn": BUILD_ENVIRONMENT["SAGEMAKER_PIPELINE_ROLE_ARN"],
        "processing_instance_type": "ml.m5.large",
        "training_instance_type": "ml.m5.2xlarge",
        **changes,
    }


def test_the_notebook_reads_the_build_environment_of_the_project_named_in_the_environment(tmp_path):
    completed = _run_settings_cell(tmp_path, {"SAGEMAKER_PROJECT_NAME": NAME, "SAGEMAKER_PROJECT_ID": ID})
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == _expected()


def test_the_notebook_finds_the_project_from_the_clone_and_an_exported_variable_wins(tmp_path):
    """No project variables: the clone's folder names the project; the region is the session's."""
    completed = _run_settings_cell(
        tmp_path, {"TRAINING_INSTANCE_TYPE": "ml.c5.xlarge"}, cwd_name=f"{NAME}-{ID}-model-build"
    )
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout) == _expected(training_instance_type="ml.c5.xlarge")


def test_the_notebook_says_which_project_it_could_not_find(tmp_path):
    completed = _run_settings_cell(
        tmp_path, {"SAGEMAKER_PROJECT_NAME": "other-custom-project", "SAGEMAKER_PROJECT_ID": ID}
    )
    assert completed.returncode != 0
    assert f"CodeBuild project other-custom-project-{ID}-model-build not found in {REGION}" in completed.stderr
