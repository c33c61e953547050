"""`publish` against moto's S3, KMS and IAM (in-process `mock_aws`), and boto3's credential chain.

What moto cannot reproduce (the README lists these):
- S3 reports no `SSEKMSKeyId` for objects encrypted with the AWS-managed key (real S3 returns the
  aws/s3 key ARN): the default-key test checks `ServerSideEncryption` only.
- moto accepts any `SSEKMSKeyId` on PutObject (real S3 refuses a missing or disabled key): the
  command checks the key with kms:DescribeKey first, and that check is what the tests exercise.
- moto authorises HeadBucket as `s3:HeadBucket` (real AWS: `s3:ListBucket`) and does not evaluate
  IAM Condition blocks; the access-denied tests use unconditional policies only.
- Whether Service Catalog and CloudFormation can read the published objects (bucket policy,
  KMS key policy, `servicecatalog:provisioning` tag conditions) is not simulated.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import boto3
import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from generator import __version__, naming, publish
from test_package import make_source_root, run_cli

REGION = "eu-west-1"
BUCKET = "org-mlops-templates"
PREFIX = f"releases/v{__version__}"
KEYS = sorted(
    f"{PREFIX}/{name}"
    for name in (*naming.SEED_CODE_KEYS.values(), publish.PROJECT_TEMPLATE_FILE, publish.PRODUCT_TEMPLATE_FILE)
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    root = make_source_root(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    result = run_cli("package", "--dist", str(out), root=root)
    assert result.exit_code == 0, result.output
    return out


def use_dummy_credentials(monkeypatch) -> None:
    """Credentials and a region that reach no real account, and no profile or endpoint of the machine's."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws(monkeypatch):
    use_dummy_credentials(monkeypatch)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield s3


def _publish(dist: Path, *extra: str):
    return run_cli("publish", "--bucket", BUCKET, "--region", REGION, "--dist", str(dist), *extra)


def _objects(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _assert_one_line_error(result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, f"exit {result.exit_code}, expected {code}: {result.output}"
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    for fragment in fragments:
        assert fragment in errors[0], f"{fragment!r} missing from: {errors[0]}"


def test_publish_uploads_every_object_encrypted_with_the_given_key(aws, dist):
    key = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]
    boto3.client("kms", region_name=REGION).create_alias(AliasName="alias/templates", TargetKeyId=key["KeyId"])
    result = _publish(dist, "--kms-key-id", "alias/templates")
    assert result.exit_code == 0, result.output
    assert _objects(aws) == KEYS
    for s3_key in KEYS:
        head = aws.head_object(Bucket=BUCKET, Key=s3_key)
        assert head["ServerSideEncryption"] == "aws:kms", f"{s3_key}: not SSE-KMS"
        assert head["SSEKMSKeyId"] == key["Arn"], f"{s3_key}: encrypted with {head.get('SSEKMSKeyId')}"
        body = aws.get_object(Bucket=BUCKET, Key=s3_key)["Body"].read()
        assert body == (dist / s3_key.removeprefix(PREFIX + "/")).read_bytes(), f"{s3_key}: bytes differ"
        tags = {t["Key"]: t["Value"] for t in aws.get_object_tagging(Bucket=BUCKET, Key=s3_key)["TagSet"]}
        expected = {"servicecatalog:provisioning": "true"} if s3_key.endswith(publish.PROJECT_TEMPLATE_FILE) else {}
        assert tags == expected, f"{s3_key}: tags {tags}"
    # The product stack must be told the key, or its launch role cannot read the seed code.
    assert f"SeedCodeKmsKeyArn = {key['Arn']}" in result.output, result.output
    assert f"param_SeedCodeKmsKeyArn={quote(key['Arn'], safe='')}" in result.output, result.output


def test_without_a_key_publish_asks_for_no_seed_code_key(aws, dist):
    result = _publish(dist)
    assert result.exit_code == 0, result.output
    assert "SeedCodeKmsKeyArn" not in result.output, result.output


def test_default_key_is_sse_kms(aws, dist):
    result = _publish(dist)
    assert result.exit_code == 0, result.output
    for s3_key in KEYS:
        assert aws.head_object(Bucket=BUCKET, Key=s3_key)["ServerSideEncryption"] == "aws:kms", s3_key


def test_next_steps_point_where_the_product_template_will_read(aws, dist, templates):
    result = _publish(dist)
    assert result.exit_code == 0, result.output
    product_url = f"https://{BUCKET}.s3.{REGION}.amazonaws.com/{PREFIX}/{publish.PRODUCT_TEMPLATE_FILE}"
    assert f"Product template URL: {product_url}" in result.output
    assert f"TemplateBucket = {BUCKET}" in result.output and f"TemplatePrefix = {PREFIX}" in result.output
    link = next(w for w in result.output.split() if "quickcreate" in w)
    parts = urlsplit(link)
    assert parts.netloc == "console.aws.amazon.com" and parse_qs(parts.query) == {"region": [REGION]}
    query = parse_qs(parts.fragment.split("?", 1)[1])
    assert query == {
        "templateURL": [product_url],
        "stackName": ["mlops-custom-project-product"],
        "param_TemplateBucket": [BUCKET],
        "param_TemplatePrefix": [PREFIX],
    }
    # The product template's own URL formula, filled with those parameter values, names an
    # object that was uploaded: the contract between publish and the product template holds.
    product = templates["product"]["Resources"]["Product"]["Properties"]
    formula = product["ProvisioningArtifactParameters"][0]["Info"]["LoadTemplateFromURL"]["Fn::Sub"]
    url = (
        formula.replace("${TemplateBucket}", BUCKET)
        .replace("${AWS::Region}", REGION)
        .replace("${AWS::URLSuffix}", "amazonaws.com")
        .replace("${TemplatePrefix}", PREFIX)
    )
    assert aws.head_object(Bucket=BUCKET, Key=urlsplit(url).path.lstrip("/"))["ContentLength"] > 0
    # And the project template's seed-code keys, with the product's prefix, exist too.
    for logical_id, resource in templates["project"]["Resources"].items():
        if resource["Type"] == "AWS::CodeCommit::Repository":
            key = resource["Properties"]["Code"]["S3"]["Key"]["Fn::Sub"][0].replace("${Prefix}", PREFIX)
            assert key in _objects(aws), f"{logical_id}: seed code key {key} was not published"


def test_republishing_the_same_bytes_is_a_no_op(aws, dist):
    assert _publish(dist).exit_code == 0
    before = {k: aws.head_object(Bucket=BUCKET, Key=k)["LastModified"] for k in KEYS}
    again = _publish(dist)
    assert again.exit_code == 0, again.output
    assert again.output.count("unchanged s3://") == len(KEYS) and "uploaded s3://" not in again.output
    assert {k: aws.head_object(Bucket=BUCKET, Key=k)["LastModified"] for k in KEYS} == before


def test_same_bytes_uploaded_by_someone_else_count_as_published(aws, dist):
    # No sha256 metadata on this object: the command compares content.
    key = f"{PREFIX}/{publish.PROJECT_TEMPLATE_FILE}"
    aws.put_object(Bucket=BUCKET, Key=key, Body=(dist / publish.PROJECT_TEMPLATE_FILE).read_bytes())
    result = _publish(dist)
    assert result.exit_code == 0, result.output
    assert f"unchanged s3://{BUCKET}/{key}" in result.output


def test_refuses_to_overwrite_different_content_and_uploads_nothing(aws, dist):
    key = f"{PREFIX}/{publish.PROJECT_TEMPLATE_FILE}"
    aws.put_object(Bucket=BUCKET, Key=key, Body=b"Resources: {}\n")
    result = _publish(dist)
    _assert_one_line_error(result, 3, "refusing to overwrite", key, "nothing was uploaded")
    assert _objects(aws) == [key]
    assert aws.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"Resources: {}\n"


def test_a_new_prefix_publishes_next_to_an_existing_release(aws, dist):
    assert _publish(dist).exit_code == 0
    result = _publish(dist, "--prefix", "releases/v0.1.0-rc2/")
    assert result.exit_code == 0, result.output
    assert "TemplatePrefix = releases/v0.1.0-rc2\n" in result.output
    assert len(_objects(aws)) == 2 * len(KEYS)


def test_missing_bucket(aws, dist):
    result = run_cli("publish", "--bucket", "no-such-bucket-here", "--region", REGION, "--dist", str(dist))
    _assert_one_line_error(result, 3, "no-such-bucket-here", "does not exist")


def test_bucket_in_another_region(aws, dist):
    result = run_cli("publish", "--bucket", BUCKET, "--region", "us-east-1", "--dist", str(dist))
    _assert_one_line_error(result, 2, f"is in {REGION}", f"--region {REGION}")
    assert _objects(aws) == []


def test_kms_key_that_does_not_exist(aws, dist):
    result = _publish(dist, "--kms-key-id", "alias/nope")
    _assert_one_line_error(result, 3, "alias/nope", "does not exist")
    assert _objects(aws) == []


def test_disabled_kms_key(aws, dist):
    kms = boto3.client("kms", region_name=REGION)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=key_id)
    result = _publish(dist, "--kms-key-id", key_id)
    _assert_one_line_error(result, 3, key_id, "Disabled")
    assert _objects(aws) == []


def test_missing_credentials(monkeypatch, dist):
    # No moto here: boto3's own credential chain finds nothing and the command says so.
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    result = _publish(dist)
    _assert_one_line_error(result, 3, "no AWS credentials")


def test_unknown_profile(monkeypatch, dist):
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    result = _publish(dist, "--profile", "nobody")
    _assert_one_line_error(result, 2, "'nobody'", "not found")


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--bucket", "Bad_Bucket"], "--bucket 'Bad_Bucket'"),
        (["--bucket", BUCKET, "--prefix", "a//b"], "--prefix 'a//b'"),
        (["--bucket", BUCKET, "--region", "af-south-1"], "region af-south-1"),
    ],
)
def test_bad_input_is_refused_before_any_request(aws, dist, args, fragment):
    region = [] if "--region" in args else ["--region", REGION]
    result = run_cli("publish", *args, *region, "--dist", str(dist))
    _assert_one_line_error(result, 2, fragment)
    assert _objects(aws) == []


def test_missing_dist(aws, tmp_path):
    result = run_cli("publish", "--bucket", BUCKET, "--region", REGION, "--dist", str(tmp_path))
    _assert_one_line_error(result, 2, "SHA256SUMS", "run `make package`")


def _user_with_policy(monkeypatch, statements: list[dict]) -> None:
    """An IAM user allowed only `statements`; the CLI then runs with its access key."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="publisher")
    iam.put_user_policy(
        UserName="publisher",
        PolicyName="publish",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    access = iam.create_access_key(UserName="publisher")["AccessKey"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", access["SecretAccessKey"])
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):  # long-term keys carry no token
        monkeypatch.delenv(name, raising=False)


# moto enforces IAM after this many calls from the start of the test body (the user's setup).
SETUP_CALLS = 3
READ_ONLY = {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:HeadBucket", "s3:GetObject"], "Resource": "*"}


@set_initial_no_auth_action_count(SETUP_CALLS)
def test_access_denied_uploads_nothing_and_says_so(aws, dist, monkeypatch):
    _user_with_policy(monkeypatch, [READ_ONLY])
    result = _publish(dist)
    _assert_one_line_error(result, 3, "AccessDenied", "uploaded: none", "incomplete")
    assert _objects(boto3.Session().client("s3", region_name=REGION)) == []  # as the publisher sees it


@set_initial_no_auth_action_count(SETUP_CALLS)
def test_access_denied_midway_reports_exactly_what_was_uploaded(aws, dist, monkeypatch):
    seed_only = {
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:PutObjectTagging"],
        "Resource": f"arn:aws:s3:::{BUCKET}/{PREFIX}/seed_code/*",
    }
    _user_with_policy(monkeypatch, [READ_ONLY, seed_only])
    result = _publish(dist)
    seed_keys = [f"{PREFIX}/{k}" for k in naming.SEED_CODE_KEYS.values()]
    _assert_one_line_error(
        result,
        3,
        f"s3://{BUCKET}/{PREFIX}/{publish.PROJECT_TEMPLATE_FILE} failed (AccessDenied",
        f"uploaded: {', '.join(seed_keys)};",
        f"not uploaded: {PREFIX}/{publish.PROJECT_TEMPLATE_FILE}, {PREFIX}/{publish.PRODUCT_TEMPLATE_FILE};",
    )
    assert "Next steps" not in result.output
    assert _objects(boto3.Session().client("s3", region_name=REGION)) == sorted(seed_keys)


def test_the_project_template_file_is_the_one_the_product_template_loads():
    """publish names files from the template registry; the product template spells the name itself."""
    from generator import product_template

    assert publish.PROJECT_TEMPLATE_FILE == product_template.PROJECT_TEMPLATE_FILE
