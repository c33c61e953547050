"""Staging test: send held-out abalone rows to the staging endpoint and check the answers.

The endpoint's name (and, for an asynchronous endpoint, where requests go) come from the
staging stack's outputs. An asynchronous request is uploaded under the customer key, invoked,
and the test waits for the endpoint's *output* object or its failure object. Every prediction
must be a number in a plausible range of ring counts. Results go to a JSON file; any failure
exits non-zero with a one-line reason.

Environment: AWS_REGION, KMS_KEY_ARN, SAGEMAKER_PROJECT_NAME and SAGEMAKER_PROJECT_ID (for the
default stack name ``<project name>-<project id>-deploy-staging``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

HERE = Path(__file__).resolve().parent
HOLDOUT = HERE / "holdout.csv"
# Abalone ring counts in the data set run from 1 to 29; anything outside (0, 40) is not a
# plausible answer of a model trained on it.
PLAUSIBLE = (0.0, 40.0)


class TestFailure(Exception):
    pass


def read_holdout(path: Path = HOLDOUT) -> tuple[list[float], str]:
    """Labels, and the request body: the feature columns as CSV without a header."""
    labels, rows = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            label, *features = line.split(",")
            labels.append(float(label))
            rows.append(",".join(features))
    if not rows:
        raise TestFailure(f"{path} has no rows")
    return labels, "\n".join(rows) + "\n"


def parse_predictions(body: str, expected: int) -> list[float]:
    """Built-in XGBoost answers CSV: numbers separated by commas or newlines."""
    tokens = [t for t in body.replace("\n", ",").split(",") if t.strip()]
    try:
        values = [float(t) for t in tokens]
    except ValueError as error:
        raise TestFailure(f"the endpoint's answer is not numbers: {body[:80]!r}") from error
    if len(values) != expected:
        raise TestFailure(f"expected {expected} predictions, got {len(values)}")
    low, high = PLAUSIBLE
    bad = [v for v in values if not math.isfinite(v) or not low < v < high]
    if bad:
        raise TestFailure(f"predictions outside the plausible ring range {low}-{high}: {bad[:5]}")
    return values


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise TestFailure(f"not an S3 location: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def _read_if_exists(s3, uri: str) -> str | None:
    bucket, key = _split_s3(uri)
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except s3.exceptions.NoSuchKey:
        return None
    except Exception as error:  # a 404 without the modelled error, or access denied
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        if code in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def stack_outputs(cloudformation, stack_name: str) -> dict:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def invoke_async(s3, runtime, outputs: dict, body: str, key_arn: str, run_id: str, timeout: float, poll: float) -> str:
    input_uri = outputs["AsyncInputPath"].rstrip("/") + f"/{run_id}/input.csv"
    bucket, key = _split_s3(input_uri)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body.encode("utf-8"),
        ContentType="text/csv",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_arn,
    )
    response = runtime.invoke_endpoint_async(
        EndpointName=outputs["EndpointName"],
        InputLocation=input_uri,
        ContentType="text/csv",
    )
    output_uri = response["OutputLocation"]
    failure_uri = response.get("FailureLocation")
    deadline = time.monotonic() + timeout
    while True:
        answer = _read_if_exists(s3, output_uri)
        if answer is not None:
            return answer
        if failure_uri:
            failure = _read_if_exists(s3, failure_uri)
            if failure is not None:
                first = (failure.strip().splitlines() or [""])[0][:200]
                raise TestFailure(f"the endpoint wrote a failure object {failure_uri}: {first}")
        if time.monotonic() >= deadline:
            raise TestFailure(f"no output at {output_uri} after {timeout:g} s")
        time.sleep(poll)


def invoke_realtime(runtime, outputs: dict, body: str) -> str:
    response = runtime.invoke_endpoint(
        EndpointName=outputs["EndpointName"], ContentType="text/csv", Body=body.encode("utf-8")
    )
    return response["Body"].read().decode("utf-8")


def run(args, env: dict) -> dict:
    import boto3

    if args.stack_outputs:
        outputs = json.loads(Path(args.stack_outputs).read_text(encoding="utf-8"))
    else:
        stack = args.stack_name
        if not stack:
            missing = [v for v in ("SAGEMAKER_PROJECT_NAME", "SAGEMAKER_PROJECT_ID") if not env.get(v)]
            if missing:
                raise TestFailure(f"environment variable(s) not set: {', '.join(missing)}")
            stack = f"{env['SAGEMAKER_PROJECT_NAME']}-{env['SAGEMAKER_PROJECT_ID']}-deploy-staging"
        outputs = stack_outputs(boto3.client("cloudformation"), stack)
    if "EndpointName" not in outputs:
        raise TestFailure("the staging stack has no EndpointName output")
    kind = outputs.get("EndpointKind", "async")
    labels, body = read_holdout()
    runtime = boto3.client("sagemaker-runtime")
    if kind == "async":
        key_arn = env.get("KMS_KEY_ARN", "")
        if not key_arn:
            raise TestFailure("environment variable KMS_KEY_ARN is not set")
        answer = invoke_async(
            boto3.client("s3"),
            runtime,
            outputs,
            body,
            key_arn,
            args.run_id or env.get("CODEBUILD_BUILD_NUMBER") or uuid.uuid4().hex,
            args.timeout,
            args.poll,
        )
    else:
        answer = invoke_realtime(runtime, outputs, body)
    predictions = parse_predictions(answer, len(labels))
    mse = sum((p - y) ** 2 for p, y in zip(predictions, labels, strict=True)) / len(labels)
    return {
        "endpoint": outputs["EndpointName"],
        "kind": kind,
        "rows": len(labels),
        "predictions": predictions,
        "mse": mse,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--stack-outputs", help="JSON file of the stack outputs (CloudFormation action output)")
    source.add_argument("--stack-name", help="staging stack (default <project name>-<project id>-deploy-staging)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for an async answer")
    parser.add_argument("--poll", type=float, default=10.0, help="seconds between checks")
    parser.add_argument("--run-id", help="folder of this request under the input path (default: build number)")
    parser.add_argument("--results", default="test-results.json", help="where to write the results")
    args = parser.parse_args(argv)
    results_path = Path(args.results)
    try:
        result = run(args, dict(os.environ))
        result.update(passed=True, reason="")
        code = 0
        print(f"test.py: {result['rows']} predictions from {result['endpoint']}, MSE {result['mse']:.2f}")
    except TestFailure as error:
        result, code = {"passed": False, "reason": str(error)}, 1
    except Exception as error:  # AWS errors: one line in the build log, not a traceback
        reason = f"{error.__class__.__name__}: {error}".splitlines()[0]
        result, code = {"passed": False, "reason": reason}, 1
    results_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if code:
        print(f"test.py: FAILED: {result['reason']}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
