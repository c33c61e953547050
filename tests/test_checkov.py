"""checkov, a third-party security rule suite, over every template the generator emits.

checkov pins old boto3 and packaging, so it lives in its own environment (`.venv-tools`, made
by `make test` from tests/tools-requirements.txt) and runs as a command, offline: no download
of its guideline mappings, no package update check.

Zero failed checks is the bar. The only way to accept a finding is a skip in the resource's
own Metadata (``checkov: skip: [{id, comment}]``) with a reason; every skip must be live (checkov
reports it as skipped) and is printed as a table for the README:

    .venv/bin/python -m pytest tests/test_checkov.py -s -k skips

What checkov cannot check here (its CloudFormation checks do not cover them, so the project
rules in generator/rules/ do): CodeBuild EncryptionKey, CodePipeline artifact-store keys,
SageMaker EndpointConfig keys, TLS-only bucket policies, AWS::IAM::RolePolicy documents,
Service Catalog and EventBridge resources.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from cfnlint.decode.decode import decode_str

from generator import render

ROOT = Path(__file__).resolve().parent.parent
CHECKOV = ROOT / ".venv-tools" / "bin" / "checkov"
FRAMEWORKS = ("cloudformation", "secrets")
# Offline: no guideline download (--skip-download / BC_SKIP_MAPPING), no version check.
OFFLINE_ENV = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
TIMEOUT_S = 300


def run_checkov(files: list[Path], cwd: Path) -> list[dict]:
    """checkov's JSON reports (one per framework that found something) for the given files."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make test` (it creates the tools environment)")
    command = [str(CHECKOV), "--skip-download", "--output", "json", "--framework", *FRAMEWORKS]
    for path in files:
        command += ["--file", str(path.relative_to(cwd))]
    env = {**os.environ, **OFFLINE_ENV}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    # 0: no failed checks, 1: failed checks; anything else is checkov itself failing.
    assert done.returncode in (0, 1), f"checkov exited {done.returncode}:\n{done.stderr[-2000:]}"
    reports = json.loads(done.stdout)
    return reports if isinstance(reports, list) else [reports]


def _results(reports: list[dict], kind: str) -> list[dict]:
    return [check for report in reports for check in report.get("results", {}).get(kind, [])]


def _template_of(check: dict) -> str:
    return Path(check["file_path"]).stem


def _comment(check: dict) -> str | None:
    return (check.get("check_result") or {}).get("suppress_comment")


@pytest.fixture(scope="module")
def emitted(rendered, tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    """Every emitted template written to a scratch folder as <target>.yaml."""
    folder = tmp_path_factory.mktemp("emitted")
    paths = {}
    for name, text in rendered.items():
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_text(text, encoding="utf-8")
    return folder, paths


@pytest.fixture(scope="module")
def reports(emitted) -> list[dict]:
    folder, paths = emitted
    return run_checkov(sorted(paths.values()), folder)


def _declared_skips(rendered: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """(template, logical id, check id, comment) of every skip in resource Metadata."""
    skips = []
    for name, text in sorted(rendered.items()):
        template, _ = decode_str(text)
        for logical_id, resource in sorted(template["Resources"].items()):
            for entry in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []:
                skips.append((name, logical_id, str(entry.get("id", "")), str(entry.get("comment", "")).strip()))
    return skips


def test_every_emitted_template_is_checked(rendered, emitted):
    assert set(rendered) == {t.name for t in render.TARGETS}, (
        f"emitted templates {sorted(rendered)} differ from the targets {[t.name for t in render.TARGETS]}"
    )


def test_checkov_parses_every_resource(reports, rendered):
    cloudformation = [r for r in reports if r["check_type"] == "cloudformation"]
    assert len(cloudformation) == 1, f"no cloudformation report from checkov: {[r['check_type'] for r in reports]}"
    summary = cloudformation[0]["summary"]
    expected = sum(len(decode_str(text)[0]["Resources"]) for text in rendered.values())
    assert summary["parsing_errors"] == 0, f"checkov could not parse a template: {summary}"
    assert summary["resource_count"] == expected, (
        f"checkov saw {summary['resource_count']} resources, the templates hold {expected}"
    )
    assert summary["passed"] > 0, f"checkov passed no check at all: {summary}"


def test_no_failed_checkov_checks(reports):
    failed = [
        f"{_template_of(c)}: {c['resource']} {c['check_id']} {c['check_name']} (lines {c.get('file_line_range')})"
        for c in _results(reports, "failed_checks")
    ]
    assert not failed, (
        "checkov checks fail (fix the generator, or skip in the resource's Metadata with a reason):\n"
        + "\n".join(sorted(failed))
    )


def test_skips_have_reasons_and_are_live(reports, rendered):
    declared = _declared_skips(rendered)
    without_reason = [f"{t}: {r} {i}" for t, r, i, comment in declared if not i or not comment]
    assert not without_reason, "checkov skips need an id and a comment:\n" + "\n".join(without_reason)

    reported = {
        (_template_of(c), c["resource"].split(".", 1)[-1], c["check_id"], _comment(c))
        for c in _results(reports, "skipped_checks")
    }
    stale = [f"{t}: {r} {i}" for t, r, i, comment in declared if (t, r, i, comment) not in reported]
    assert not stale, "skips checkov did not apply with their comment (stale ids: remove them):\n" + "\n".join(stale)

    print("\n| Template | Resource | Check | Reason |\n|---|---|---|---|")
    for template, resource, check, comment in declared:
        print(f"| {template} | {resource} | {check} | {comment} |")
    if not declared:
        print("| (none) | | | |")


def test_no_skips_outside_resource_metadata(rendered):
    """Inline `# checkov:skip=` comments would bypass the reasons table."""
    inline = [name for name, text in rendered.items() if "checkov:skip" in text.replace(" ", "")]
    assert not inline, f"inline checkov skips in {inline}: use resource Metadata with a comment"


def test_checkov_reports_what_it_is_meant_to_find(tmp_path):
    """Canary: offline, both frameworks still fire, and a Metadata skip is reported with its comment."""
    bad = tmp_path / "canary.yaml"
    bad.write_text(
        "AWSTemplateFormatVersion: '2010-09-09'\n"
        "Resources:\n"
        "  OpenBucket:\n"
        "    Type: AWS::S3::Bucket\n"
        "    Metadata:\n"
        "      checkov:\n"
        "        skip:\n"
        "          - {id: CKV_AWS_18, comment: canary reason}\n"
        "    Properties:\n"
        "      AccessControl: PublicRead\n"
        "  Build:\n"
        "    Type: AWS::CodeBuild::Project\n"
        "    Properties:\n"
        "      Artifacts: {Type: NO_ARTIFACTS}\n"
        "      ServiceRole: build-role\n"
        "      Source: {Type: NO_SOURCE, BuildSpec: 'version: 0.2'}\n"
        "      Environment:\n"
        "        ComputeType: BUILD_GENERAL1_SMALL\n"
        "        Image: aws/codebuild/standard:7.0\n"
        "        Type: LINUX_CONTAINER\n"
        "        EnvironmentVariables:\n"
        "          - {Name: AWS_ACCESS_KEY_ID, Value: AKIAIOSFODNN7EXAMPLQ}\n"
        "          - {Name: AWS_SECRET_ACCESS_KEY, Value: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ}\n",
        encoding="utf-8",
    )
    reports = run_checkov([bad], tmp_path)
    failed = {(r["check_type"], c["check_id"]) for r in reports for c in r.get("results", {}).get("failed_checks", [])}
    assert ("secrets", "CKV_SECRET_2") in failed, f"secrets framework found no AWS key: {sorted(failed)}"
    assert ("cloudformation", "CKV_AWS_20") in failed, f"no public-read finding: {sorted(failed)}"
    skipped = {(c["resource"], c["check_id"], _comment(c)) for c in _results(reports, "skipped_checks")}
    assert skipped == {("AWS::S3::Bucket.OpenBucket", "CKV_AWS_18", "canary reason")}, (
        f"a Metadata skip was not reported as skipped with its comment: {sorted(skipped)}"
    )
