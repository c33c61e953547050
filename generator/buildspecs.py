"""What the project's builds run, and the artifacts the pipelines pass between actions.

The seed code provides the model build's buildspec; the deploy build, the deploy gate and the
staging test run buildspecs written here, inline in the CodeBuild projects, so the deploy
repository (which a data scientist controls) cannot decide what gets deployed or how the
staging test is wired.
"""

from __future__ import annotations

import yaml

# Pipeline artifacts: the source action's output, the deploy build's output (the whole deploy
# repository with the endpoint template and stage configurations; the deploy gate's only
# input) and, written by the staging
# deploy action, the staging stack's outputs (endpoint name, async locations).
SOURCE_ARTIFACT = "SourceArtifact"
BUILD_ARTIFACT = "BuildArtifact"
STAGING_OUTPUTS_ARTIFACT = "StagingOutputs"
STAGING_OUTPUTS_FILE = "staging-stack-outputs.json"

# Files of the seed code (seed_code/model_build, seed_code/model_deploy) the builds use.
BUILD_BUILDSPEC = "codebuild-buildspec.yml"
# The deploy repository's own buildspec: for local runs and as documentation only. The pipeline
# runs DEPLOY_CONFIG_BUILDSPEC and the gate, DEPLOY_GATE_BUILDSPEC, below, so the repository
# cannot decide what gets deployed.
SEED_DEPLOY_BUILDSPEC = "buildspec.yml"
TEST_SCRIPT = "test/test.py"


def _python_buildspec(commands: list[str], **sections: object) -> str:
    """A buildspec that installs the repository's requirements.txt on Python 3.12, then runs
    ``commands``; ``sections`` are further top-level keys (artifacts)."""
    return yaml.safe_dump(
        {
            "version": 0.2,
            "phases": {
                "install": {
                    "runtime-versions": {"python": "3.12"},
                    "commands": ["python -m pip install --quiet --disable-pip-version-check -r requirements.txt"],
                },
                "build": {"commands": commands},
            },
            **sections,
        },
        sort_keys=True,
    )


# The staging test: test code and requirements from the build artifact, the endpoint's details
# from the staging outputs artifact (a secondary source, so CodeBuild names its directory).
TEST_BUILDSPEC = _python_buildspec(
    [f'python {TEST_SCRIPT} --stack-outputs "$CODEBUILD_SRC_DIR_{STAGING_OUTPUTS_ARTIFACT}/{STAGING_OUTPUTS_FILE}"']
)
ENDPOINT_TEMPLATE = "endpoint-config-template.yml"
DEPLOY_CONFIG_SCRIPT = "build.py"
# The deploy gate exports MODEL_APPROVED ("true"/"false") into this action namespace.
DEPLOY_BUILD_NAMESPACE = "DeployBuild"
MODEL_APPROVED_VARIABLE = "MODEL_APPROVED"
# The newest Approved model package of the project's group, or "none" (exported too).
MODEL_PACKAGE_ARN_VARIABLE = "MODEL_PACKAGE_ARN"
STAGE_CONFIG = {"staging": "staging-config-export.json", "prod": "prod-config-export.json"}

# ---- the deploy gate -------------------------------------------------------------------------
# Separation of duties: a data scientist controls the deploy repository, so nothing in it may
# decide whether (MODEL_APPROVED, read by the stage conditions) or what (the ModelPackageArn of
# the stage configurations) is deployed. The deploy pipeline's Build stage therefore has two
# actions. The first (DEPLOY_CONFIG_BUILDSPEC) runs the repository's code: its requirements and
# build.py write the stage configurations (teams keep customising them); it exports nothing.
# The second, the gate (DEPLOY_GATE_BUILDSPEC), runs in a fresh CodeBuild container on that
# action's output artifact and runs no repository code: it accepts only the platform's endpoint
# template (what is deployed is the platform's decision too), asks the model registry for the
# newest Approved version of the project's group and accepts the configurations only if each
# names exactly that version. Code of the repository runs as
# root in the first container and could rewrite files there or replace the tools a check in the
# same container would use; it never runs where the gate runs, and the deploy stages read the
# object of the encrypted artifact store the gate read (CodePipeline writes it once per run;
# README "Known limits": the builds' shared role could still overwrite it). Each gate command
# is a subshell with `set -euo pipefail` (CodeBuild runs all commands in one bash, so the
# options stay inside); a non-zero exit fails the build.
#
# `--output json`: the CLI's text output applies --query to every page it fetched, and
# SageMaker can answer a filtered list with empty pages and a NextToken; JSON output queries the
# joined result, a quoted ARN or null.
DEPLOY_GATE_LOOKUP = f"""\
{MODEL_PACKAGE_ARN_VARIABLE}="$(
  set -euo pipefail
  newest="$(aws sagemaker list-model-packages \\
    --model-package-group-name "$MODEL_PACKAGE_GROUP_NAME" \\
    --model-approval-status Approved \\
    --sort-by CreationTime --sort-order Descending \\
    --max-items 1 \\
    --query 'ModelPackageSummaryList[0].ModelPackageArn' --output json | tr -d '"')"
  case "$newest" in
    null) echo none ;;
    *:sagemaker:*:model-package/"$MODEL_PACKAGE_GROUP_NAME"/[0-9]*) echo "$newest" ;;
    *) echo "deploy gate: unexpected answer from sagemaker list-model-packages: $newest" >&2; exit 1 ;;
  esac
)" && export {MODEL_PACKAGE_ARN_VARIABLE}"""

# Prints Parameters.ModelPackageArn of the stage configuration given as its argument. Standard
# library only: -I -S ignores PYTHON* variables, the user site, site-packages and the current
# directory (the artifact, which may hold a json.py or sitecustomize.py). A key given twice is
# refused: a reader keeping the first value and one keeping the last must not see different
# models.
CONFIG_ARN_READER = """\
import json, sys
def unique(pairs):
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        sys.exit("a key is given twice")
    return dict(pairs)
try:
    with open(sys.argv[1], encoding="utf-8") as config:
        arn = json.load(config, object_pairs_hook=unique)["Parameters"]["ModelPackageArn"]
except (OSError, ValueError, LookupError, TypeError) as error:
    sys.exit(f"{error.__class__.__name__}: {error}")
print(arn if isinstance(arn, str) else "")"""

# The platform's endpoint template, by the SHA-256 of its text without comment lines (the
# generated-by header; comments change nothing CloudFormation deploys). The project template sets
# it on the gate's build project, where the repository cannot change it.
ENDPOINT_TEMPLATE_SHA256_VARIABLE = "ENDPOINT_TEMPLATE_SHA256"
DEPLOY_GATE_TEMPLATE_CHECK = f"""\
(
  set -euo pipefail
  digest="$(sed '/^#/d' {ENDPOINT_TEMPLATE} | sha256sum | cut -d ' ' -f 1)"
  if [ "$digest" != "${ENDPOINT_TEMPLATE_SHA256_VARIABLE}" ]; then
    echo "deploy gate: {ENDPOINT_TEMPLATE} is not the platform's endpoint template (sha256 $digest," \\
      "expected ${ENDPOINT_TEMPLATE_SHA256_VARIABLE}): change the generator's, not the repository's" >&2
    exit 1
  fi
)"""

DEPLOY_GATE_CHECK = f"""\
{MODEL_APPROVED_VARIABLE}="$(
  set -euo pipefail
  group="$MODEL_PACKAGE_GROUP_NAME" approved="${MODEL_PACKAGE_ARN_VARIABLE}"
  if [ "$approved" = none ]; then
    echo "deploy gate: no Approved model package in group $group: {MODEL_APPROVED_VARIABLE}=false," \\
      "the deploy stages are skipped" >&2
    echo false
    exit 0
  fi
  for config in {" ".join(STAGE_CONFIG.values())}; do
    if ! named="$(python -I -S -c '{CONFIG_ARN_READER}' "$config")"; then
      echo "deploy gate: $config names no single ModelPackageArn in its Parameters: refusing to deploy" >&2
      exit 1
    fi
    if [ "$named" != "$approved" ]; then
      echo "deploy gate: $config deploys model package '$named', but the newest Approved model" \\
        "package of group $group is $approved: refusing to deploy" >&2
      exit 1
    fi
  done
  echo "deploy gate: every stage configuration deploys $approved: {MODEL_APPROVED_VARIABLE}=true" >&2
  echo true
)" && export {MODEL_APPROVED_VARIABLE}"""

# The deploy build: the repository's code, exporting nothing (the gate decides).
DEPLOY_CONFIG_BUILDSPEC = _python_buildspec(
    [
        # The repository's code: writes the stage configurations (nothing while no
        # model is approved, exit 0 with --allow-no-model).
        f"python {DEPLOY_CONFIG_SCRIPT} --allow-no-model",
    ],
    # Everything: the staging test reads test/ and requirements.txt, and while no model is
    # approved the configuration exports do not exist (listing them would fail the upload).
    artifacts={"files": ["**/*"]},
)

# The deploy gate: its own CodeBuild action after the deploy build, on the deploy build's
# output artifact only, with the image's tools (aws, tr, python -I -S) and nothing installed.
# No output artifact: the deploy stages read BuildArtifact, the object the gate checked.
DEPLOY_GATE_BUILDSPEC = yaml.safe_dump(
    {
        "version": 0.2,
        "env": {
            "shell": "bash",
            # Read by the stage conditions (VariableCheck on #{DeployBuild.MODEL_APPROVED}).
            "exported-variables": [MODEL_APPROVED_VARIABLE, MODEL_PACKAGE_ARN_VARIABLE],
        },
        "phases": {
            "install": {"runtime-versions": {"python": "3.12"}},
            "build": {"commands": [DEPLOY_GATE_TEMPLATE_CHECK, DEPLOY_GATE_LOOKUP, DEPLOY_GATE_CHECK]},
        },
    },
    sort_keys=True,
)
