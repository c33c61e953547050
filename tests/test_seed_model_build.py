"""The model-build seed code: its pipeline as the SageMaker SDK renders it, its local dry run,
its own tests from an unpacked zip, and its notebook.

Engines: the SageMaker Python SDK 2.x renders the definition (`pipeline.definition()`);
moto's `mock_aws` answers the SDK's S3 and STS calls (bucket check, script uploads); the
SDK's telemetry sender is replaced by a recorder (it calls STS and an HTTPS endpoint with no
timeout). The local dry run runs the real preprocess.py / evaluate.py and the xgboost package
on the shipped data. The required tag keys come from the generator's default configuration,
so a configuration change flows through.

NOT checked offline (listed for the README):
"""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from generator.config import build_config

ROOT = Path(__file__).resolve().parents[1]
SEED_CODE = ROOT / "seed_code"
SEED = SEED_CODE / "model_build"

NOT_CHECKED_OFFLINE = (
    "moto has no SageMaker Projects: the project's ListTags answer is a botocore Stubber response "
    "(validated against the SageMaker API model), so reading tags from a real project is untested",
    "that SageMaker Pipelines passes each step's Tags, VolumeKmsKeyId and KmsKeyId on to the jobs "
    "it creates (the definition is checked, not the service)",
    "that the built-in XGBoost 3.0-5 and scikit-learn 1.4-2 images run preprocess.py / evaluate.py "
    "(the local run uses the installed scikit-learn and xgboost packages instead)",
    "that the project's IAM roles allow the calls the build and the pipeline make",
)
__doc__ += "".join(f"- {item}\n" for item in NOT_CHECKED_OFFLINE)


@pytest.fixture(scope="module")
def seed():
    """The seed repository importable as it is in a clone: `pipelines` and tests/offline.py."""
    sys.path.insert(0, str(SEED))
    spec = importlib.util.spec_from_file_location("seed_offline", SEED / "tests" / "offline.py")
    offline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(offline)
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    try:
        yield offline
    finally:
        sys.path.remove(str(SEED))


@pytest.fixture(scope="module")
def config():
    return build_config()


def required_tag_values(config) -> dict[str, str]:
    """A value for every required tag of the configuration, allowed by its constraints."""
    values = {}
    for tag in config.required_tags:
        values[tag.key] = tag.default or (tag.allowed_values[0] if tag.allowed_values else f"{tag.key}-value")
    return values


def walk(steps):
    for step in steps:
        yield step
        yield from walk(step.get("Arguments", {}).get("IfSteps", []))
        yield from walk(step.get("Arguments", {}).get("ElseSteps", []))


def tag_problems(definition: dict, expected: dict[str, str]) -> list[str]:
    """Every job or registration step lacking one of the expected tags (or with another value)."""
    problems = []
    for step in walk(definition["Steps"]):
        if step["Type"] not in ("Processing", "Training", "RegisterModel"):
            continue
        tags = {tag["Key"]: tag["Value"] for tag in step["Arguments"].get("Tags", [])}
        for key, value in expected.items():
            if tags.get(key) != value:
                problems.append(f"step {step['Name']}: tag {key}={tags.get(key)!r}, expected {value!r}")
    return problems


@pytest.fixture(scope="module")
def env(seed, config):
    return seed.sample_env(REQUIRED_TAGS=json.dumps(required_tag_values(config)))


@pytest.fixture(scope="module")
def rendering(seed, env):
    """(definition, S3 keys the SDK uploaded to the project bucket)."""
    rendered, uploaded, _calls = seed.render(env)
    return rendered, uploaded


@pytest.fixture(scope="module")
def definition(rendering):
    return rendering[0]


def test_names_follow_project_name_and_id(rendering, env):
    # The SDK uploads step code under `<pipeline name>/code/`: the pipeline is named
    # `<project name>-<project id>`, like the model package group.
    prefix = f"{env['SAGEMAKER_PROJECT_NAME']}-{env['SAGEMAKER_PROJECT_ID']}"
    _definition, uploaded = rendering
    scripts = sorted(key.rsplit("/", 1)[-1] for key in uploaded)
    assert scripts == ["evaluate.py", "preprocess.py"], uploaded
    assert all(key.startswith(f"{prefix}/code/") for key in uploaded), uploaded
    assert env["MODEL_PACKAGE_GROUP_NAME"] == prefix


def test_five_steps_in_order(definition):
    steps = [(step["Name"], step["Type"]) for step in walk(definition["Steps"])]
    assert [kind for _name, kind in steps] == ["Processing", "Training", "Processing", "Condition", "RegisterModel"], (
        f"seed pipeline steps: {steps}"
    )


def test_every_job_has_required_and_project_tags(definition, env, config):
    expected = {
        **required_tag_values(config),
        "sagemaker:project-name": env["SAGEMAKER_PROJECT_NAME"],
        "sagemaker:project-id": env["SAGEMAKER_PROJECT_ID"],
    }
    assert set(config.tag_keys) <= set(expected)
    jobs = [s for s in walk(definition["Steps"]) if s["Type"] in ("Processing", "Training", "RegisterModel")]
    assert len(jobs) == 4, [s["Name"] for s in jobs]
    assert tag_problems(definition, expected) == []


def test_a_dropped_required_tag_is_caught(seed, config):
    """The check above can fail: REQUIRED_TAGS without one configured key gives untagged jobs."""
    values = required_tag_values(config)
    dropped = config.tag_keys[0]
    short = {key: value for key, value in values.items() if key != dropped}
    rendered, _uploaded, _calls = seed.render(seed.sample_env(REQUIRED_TAGS=json.dumps(short)))
    problems = tag_problems(rendered, values)
    assert len(problems) == 4 and all(f"tag {dropped}=None" in p for p in problems), problems


def test_an_empty_required_tag_stops_the_build(seed, config):
    from pipelines.settings import ProjectSettings, SettingsError

    values = {**required_tag_values(config), config.tag_keys[-1]: ""}
    with pytest.raises(SettingsError) as error:
        ProjectSettings.from_env(seed.sample_env(REQUIRED_TAGS=json.dumps(values)))
    message = str(error.value)
    assert f"required tag {config.tag_keys[-1]!r} has no value" in message and "\n" not in message


def test_key_on_every_volume_and_output(definition, env):
    key = env["KMS_KEY_ARN"]
    for step in walk(definition["Steps"]):
        args = step["Arguments"]
        if step["Type"] == "Processing":
            volume = args["ProcessingResources"]["ClusterConfig"].get("VolumeKmsKeyId")
            output = args["ProcessingOutputConfig"].get("KmsKeyId")
        elif step["Type"] == "Training":
            volume = args["ResourceConfig"].get("VolumeKmsKeyId")
            output = args["OutputDataConfig"].get("KmsKeyId")
        else:
            continue
        assert (volume, output) == (key, key), f"step {step['Name']}: volume key {volume}, output key {output}"


def test_registration_condition_and_input(definition, env):
    parameters = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert parameters["ModelApprovalStatus"] == "PendingManualApproval"
    condition = next(s for s in walk(definition["Steps"]) if s["Type"] == "Condition")
    (rule,) = condition["Arguments"]["Conditions"]
    assert (rule["Type"], rule["RightValue"]) == ("LessThanOrEqualTo", 6.0)
    register = condition["Arguments"]["IfSteps"][0]["Arguments"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert register["ModelPackageGroupName"] == env["MODEL_PACKAGE_GROUP_NAME"]
    # Input data: the pipeline reads the object the buildspec uploads to the project bucket.
    bucket = env["ARTIFACT_BUCKET"]
    assert parameters["InputDataUrl"].startswith(f"s3://{bucket}/")
    preprocess = next(walk(definition["Steps"]))["Arguments"]["ProcessingInputs"][0]["S3Input"]
    assert preprocess["S3Uri"] == {"Get": "Parameters.InputDataUrl"}
    buildspec = (SEED / "codebuild-buildspec.yml").read_text()
    key = parameters["InputDataUrl"].removeprefix(f"s3://{bucket}/")
    assert f'/{key}"' in buildspec and "--sse aws:kms --sse-kms-key-id" in buildspec
    # No AWS-owned (or any other) bucket anywhere in the definition.
    others = sorted({u for u in re.findall(r"s3://([^/\"]+)", json.dumps(definition)) if u != bucket})
    assert others == [], f"seed pipeline reads or writes buckets other than the project's: {others}"


def test_no_sagemaker_experiments_entities(definition):
    """No PipelineExperimentConfig: executions create no experiment, trial or trial component.

    The SDK's default (pipeline name, execution id) would have every execution create SageMaker
    Experiments entities as the pipeline role, which no role of the project may do.
    """
    assert definition.get("PipelineExperimentConfig") is None


def test_sdk_default_experiment_config_is_caught(seed, env, monkeypatch):
    """The check above can fail: the pipeline built without `pipeline_experiment_config=None`
    (the SDK's default, in this region) renders a PipelineExperimentConfig."""
    from pipelines.abalone import pipeline as module

    real = module.Pipeline

    def sdk_default(**kwargs):
        kwargs.pop("pipeline_experiment_config")  # KeyError if the seed no longer passes it
        return real(**kwargs)

    monkeypatch.setattr(module, "Pipeline", sdk_default)
    rendered, _uploaded, _calls = seed.render(env)
    assert rendered.get("PipelineExperimentConfig") == {
        "ExperimentName": {"Get": "Execution.PipelineName"},
        "TrialName": {"Get": "Execution.PipelineExecutionId"},
    }


# ---- buildspecs call modules, not freshly installed console scripts ------------------------
# On CodeBuild's Amazon Linux images Python comes from pyenv: a console script that
# `python -m pip install` has just created is not on PATH until `pyenv rehash`.

SHELL_OPERATORS = {"&&", "||", ";", "|", "&", "(", ")"}


def declared_console_scripts(folder: Path) -> set[str]:
    """Console scripts the folder's setup.py (read with ast, not run) or pyproject.toml declares."""
    scripts: set[str] = set()
    if (folder / "setup.py").is_file():
        for node in ast.walk(ast.parse((folder / "setup.py").read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
                for keyword in node.keywords:
                    if keyword.arg == "entry_points":
                        entries = ast.literal_eval(keyword.value).get("console_scripts", [])
                        scripts |= {entry.split("=", 1)[0].strip() for entry in entries}
    if (folder / "pyproject.toml").is_file():
        project = tomllib.loads((folder / "pyproject.toml").read_text()).get("project", {})
        scripts |= set(project.get("scripts", {}))
    return scripts


def command_words(command: str) -> list[str]:
    """The first word of every simple command of a shell line (after `&&`, `;`, `|`, ...),
    variable assignments skipped."""
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


def buildspec_commands(buildspec: dict) -> list[str]:
    commands = []
    for body in (buildspec.get("phases") or {}).values():
        commands += [*(body.get("commands") or []), *(body.get("finally") or [])]
    return commands


def seed_buildspecs() -> dict[Path, dict]:
    """Every CodeBuild buildspec under seed_code/ (a YAML file with top-level `phases`)."""
    found = {}
    for path in sorted([*SEED_CODE.rglob("*.yml"), *SEED_CODE.rglob("*.yaml")]):
        if not re.search(r"^phases:", path.read_text(), re.MULTILINE):
            continue
        found[path] = yaml.safe_load(path.read_text())
    return found


def console_script_calls(buildspec: dict, scripts: set[str]) -> list[str]:
    return [
        f"{word}: {' '.join(command.split())[:80]}"
        for command in buildspec_commands(buildspec)
        for word in command_words(command)
        if word in scripts
    ]


def test_buildspecs_call_no_console_script_of_their_folder():
    buildspecs = seed_buildspecs()
    assert sorted(p.relative_to(SEED_CODE).as_posix() for p in buildspecs) == [
        "model_build/codebuild-buildspec.yml",
        "model_deploy/buildspec.yml",
    ]
    problems = {}
    for path, buildspec in buildspecs.items():
        folder = SEED_CODE / path.relative_to(SEED_CODE).parts[0]
        assert buildspec_commands(buildspec), f"{path}: no commands found"
        if calls := console_script_calls(buildspec, declared_console_scripts(folder)):
            problems[path.relative_to(ROOT).as_posix()] = calls
    assert problems == {}, "buildspec commands that are console scripts (use python -m <module>)"
    assert {"run-pipeline", "get-pipeline-definition"} <= declared_console_scripts(SEED)


def test_console_script_in_a_buildspec_is_caught():
    """The check above can fail: the model build calling `run-pipeline` (as it once did) is caught,
    and so is a script behind `&&` or a variable assignment."""
    text = (SEED / "codebuild-buildspec.yml").read_text()
    assert "python -m pipelines.run_pipeline" in text
    old = yaml.safe_load(text.replace("python -m pipelines.run_pipeline", "run-pipeline"))
    scripts = declared_console_scripts(SEED)
    assert [call.split(":")[0] for call in console_script_calls(old, scripts)] == ["run-pipeline"]
    chained = {"phases": {"build": {"commands": ["cd . && X=1 get-pipeline-definition -f d.json"]}}}
    assert [call.split(":")[0] for call in console_script_calls(chained, scripts)] == ["get-pipeline-definition"]


def test_buildspec_module_runs_with_help(tmp_path):
    """`python -m <module> --help` for the module the buildspec runs, with only the seed folder on
    PYTHONPATH (run from elsewhere), exits 0 and knows every option the buildspec passes."""
    buildspec = yaml.safe_load((SEED / "codebuild-buildspec.yml").read_text())
    runs = [shlex.split(c) for c in buildspec_commands(buildspec) if c.split()[:2] == ["python", "-m"]]
    runs = [words for words in runs if words[2] != "pip"]
    assert len(runs) == 1 and runs[0][2] == "pipelines.run_pipeline", runs
    env = {**os.environ, "PYTHONPATH": str(SEED), "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", runs[0][2], "--help"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: run-pipeline"), result.stdout
    options = {word for word in runs[0][3:] if word.startswith("--")}
    unknown = {o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", result.stdout)}
    assert options and unknown == set(), result.stdout


def test_local_dry_run(seed, capsys):
    from pipelines.abalone import local_run

    assert local_run.main([]) == 0
    out = capsys.readouterr().out
    sizes = [int(n) for n in re.findall(r"(?:train|validation|test)=(\d+)", out)]
    assert len(sizes) == 3 and sum(sizes) == 4177, out
    mse = float(re.search(r"test MSE: (\S+)", out).group(1))
    assert math.isfinite(mse), out
    verdict = re.search(r"verdict: (REGISTER|DO NOT REGISTER) ", out).group(1)
    assert verdict == ("REGISTER" if mse <= 6.0 else "DO NOT REGISTER"), out


# The seed's own tests from the packaged zip: tests/test_package.py (the real `package` output).


def test_notebook_is_valid_nbformat_v4():
    notebook = nbformat.read(SEED / "sagemaker-pipelines-project.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert any("build_pipeline(" in source for source in code)
    # It builds the pipeline with build_pipeline and does not turn SageMaker Experiments back on.
    assert not [source for source in code if re.search(r"experiment_?config", source, re.IGNORECASE)]
