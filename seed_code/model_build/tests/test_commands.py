"""`run-pipeline` and `get-pipeline-definition` against moto's SageMaker pipelines API, and how
the buildspec calls them."""

import ast
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
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


# ---- the buildspec runs modules, not console scripts ---------------------------------------

ROOT = Path(__file__).resolve().parents[1]
SHELL_OPERATORS = {"&&", "||", ";", "|", "&", "(", ")"}


def console_scripts(setup_py: Path) -> set[str]:
    """Names of the console scripts setup.py declares (read with ast, setup() is not run)."""
    for node in ast.walk(ast.parse(setup_py.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
            for keyword in node.keywords:
                if keyword.arg == "entry_points":
                    entries = ast.literal_eval(keyword.value).get("console_scripts", [])
                    return {entry.split("=", 1)[0].strip() for entry in entries}
    return set()


def command_words(command: str) -> list[str]:
    """The first word of every simple command in a shell command line (after `&&`, `;`, `|` ...)."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words, expect = [], True
    for token in lexer:
        if token in SHELL_OPERATORS:
            expect = True
        elif expect and not ("=" in token and token.split("=", 1)[0].isidentifier()):
            words.append(token)
            expect = False
    return words


def console_script_calls(buildspec: dict, scripts: set[str]) -> list[str]:
    problems = []
    for phase, body in (buildspec.get("phases") or {}).items():
        for command in [*(body.get("commands") or []), *(body.get("finally") or [])]:
            problems += [f"{phase}: {word} ({command[:60]})" for word in command_words(command) if word in scripts]
    return problems


def test_buildspec_calls_no_console_script():
    # Under pyenv (CodeBuild's Amazon Linux images) a console script that `pip install .` has just
    # created is not on PATH until `pyenv rehash`: the build calls `python -m <module>` instead.
    scripts = console_scripts(ROOT / "setup.py")
    assert {"run-pipeline", "get-pipeline-definition"} <= scripts, scripts
    buildspec = yaml.safe_load((ROOT / "codebuild-buildspec.yml").read_text())
    assert console_script_calls(buildspec, scripts) == []
    # The check can fail: the same buildspec calling the console script is caught.
    old = yaml.safe_load(
        (ROOT / "codebuild-buildspec.yml").read_text().replace("python -m pipelines.run_pipeline", "run-pipeline")
    )
    assert [p.split(" (")[0] for p in console_script_calls(old, scripts)] == ["build: run-pipeline"]


def test_module_entry_point_help():
    # What the buildspec runs, from any directory, with only this repository on PYTHONPATH.
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.run_pipeline", "--help"],
        cwd=ROOT.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: run-pipeline"), result.stdout
