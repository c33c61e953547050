"""Upload the release artifacts to S3 under a versioned prefix, and say what to do next.

The keys under the prefix are a contract: the product template loads
`<prefix>/MLOps-template-example.yml` and project stacks copy `<prefix>/seed_code/*.zip` into
their repositories. A published prefix is immutable: an object that is already there with other
bytes is never replaced (the check is repeated atomically with `If-None-Match: *` on every
upload), so a product that points at a prefix keeps getting the template it was tested with.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

from generator import __version__, aws, naming, packaging, render
from generator.config import Config
from generator.errors import AwsError, UserError

# A parameter of the product template, not a file: the template registry has no place for it.
from generator.product_template import SEED_KEY_PARAM
from generator.release import Release, check_dist

# Service Catalog reads the project template with this tag: bucket policies commonly grant
# Service Catalog `s3:GetObject` on the condition `s3:ExistingObjectTag/servicecatalog:provisioning`.
PROVISIONING_TAG = ("servicecatalog:provisioning", "true")
SHA256_METADATA = "sha256"
# The default configuration's file names; `published(config)` gives any configuration's.
PRODUCT_TEMPLATE_FILE = render.target("product").file_name
# The product template loads the project template from `<prefix>/<this name>`.
PROJECT_TEMPLATE_FILE = render.target("project").file_name
URL_SUFFIX = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn", "aws-us-gov": "amazonaws.com"}
CONSOLE = {
    "aws": "console.aws.amazon.com",
    "aws-cn": "console.amazonaws.cn",
    "aws-us-gov": "console.amazonaws-us-gov.com",
}
CONTENT_TYPES = {".zip": "application/zip", ".yml": "text/yaml", ".yaml": "text/yaml"}


def _file_name(config: Config, name: str) -> str:
    return next(t.file_name for t in render.targets(config) if t.name == name)


def published(config: Config) -> tuple[str, ...]:
    """The keys uploaded under the prefix, in upload order: seed code first and the product
    template last, since whoever sees the product template can use it."""
    return (*naming.SEED_CODE_KEYS.values(), _file_name(config, "project"), _file_name(config, "product"))


def default_prefix() -> str:
    return f"releases/v{__version__}"


@dataclass
class Outcome:
    bucket: str
    prefix: str
    region: str
    partition: str
    uploaded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # The key the objects were encrypted with (--kms-key-id): the product's SeedCodeKmsKeyArn.
    kms_key_arn: str = ""

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}"

    def object_url(self, name: str) -> str:
        return f"https://{self.bucket}.s3.{self.region}.{URL_SUFFIX[self.partition]}/{quote(self.key(name))}"


def _template_parameters(config: Config) -> dict:
    """The product template's parameters, as rendered (the console will enforce these)."""
    template = next(t for t in render.targets(config) if t.name == "product").build(config)
    return {name: p.to_dict() for name, p in template.parameters.items()}


def _check_inputs(config: Config, bucket: str, prefix: str) -> None:
    parameters = _template_parameters(config)
    for value, name, what in ((bucket, "TemplateBucket", "--bucket"), (prefix, "TemplatePrefix", "--prefix")):
        spec = parameters[name]
        if not re.fullmatch(spec["AllowedPattern"], value):
            raise UserError(
                f"{what} {value!r} is not accepted by the product template's {name} parameter "
                f"({spec.get('ConstraintDescription', spec['AllowedPattern'])})"
            )


def _check_bucket(s3, bucket: str, region: str) -> None:
    from botocore.exceptions import ClientError

    try:
        response = s3.head_bucket(Bucket=bucket)
    except ClientError as error:
        code = aws.error_code(error)
        if code in ("404", "NoSuchBucket"):
            raise AwsError(f"bucket {bucket!r} does not exist; create it first (in {region})") from error
        if code in ("403", "AccessDenied"):
            raise AwsError(f"access denied to bucket {bucket!r}: the caller needs s3:ListBucket on it") from error
        raise AwsError(f"bucket {bucket!r}: {aws.describe(error)}") from error
    located = response.get("BucketRegion") or response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")
    if located and located != region:
        raise UserError(f"bucket {bucket!r} is in {located}, not {region}: pass --region {located}")


def _resolve_key(kms, key_id: str, region: str) -> str:
    """The key's ARN; refuses a key that does not exist or cannot encrypt."""
    from botocore.exceptions import ClientError

    try:
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    except ClientError as error:
        code = aws.error_code(error)
        if code == "NotFoundException":
            raise AwsError(f"KMS key {key_id!r} does not exist in {region}") from error
        if code in ("AccessDeniedException", "AccessDenied"):
            raise AwsError(
                f"access denied to KMS key {key_id!r}: the caller needs kms:DescribeKey and kms:GenerateDataKey on it"
            ) from error
        raise AwsError(f"KMS key {key_id!r}: {aws.describe(error)}") from error
    if metadata.get("KeyState") != "Enabled":
        raise AwsError(f"KMS key {key_id!r} is {metadata.get('KeyState')}; an Enabled key is needed")
    if (
        metadata.get("KeyUsage", "ENCRYPT_DECRYPT") != "ENCRYPT_DECRYPT"
        or metadata.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT"
    ):
        raise UserError(f"KMS key {key_id!r} is not a symmetric encryption key; S3 needs one")
    return metadata["Arn"]


def _existing(s3, bucket: str, key: str, item: packaging.Artifact) -> str:
    """'absent', 'same' or 'different' for what is at `key` now."""
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        code = aws.error_code(error)
        if code in ("404", "NoSuchKey", "NotFound"):
            return "absent"
        if code in ("403", "AccessDenied"):
            raise AwsError(
                f"access denied reading s3://{bucket}/{key}: the caller needs s3:GetObject "
                "(and s3:ListBucket) on the prefix"
            ) from error
        raise AwsError(f"s3://{bucket}/{key}: {aws.describe(error)}") from error
    recorded = head.get("Metadata", {}).get(SHA256_METADATA)
    if recorded is not None:
        return "same" if recorded == item.sha256 else "different"
    # Uploaded by something else: compare the bytes themselves (the files are small).
    if head.get("ContentLength") != len(item.data):
        return "different"
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return "same" if body == item.data else "different"


def _put(s3, bucket: str, key: str, item: packaging.Artifact, kms_key_arn: str | None, tagged: str) -> None:
    arguments = dict(
        Bucket=bucket,
        Key=key,
        Body=item.data,
        ContentType=CONTENT_TYPES.get(Path(item.path).suffix, "application/octet-stream"),
        ServerSideEncryption="aws:kms",
        Metadata={SHA256_METADATA: item.sha256},
        # S3 checks the body against this and refuses a corrupted upload.
        ChecksumSHA256=base64.b64encode(hashlib.sha256(item.data).digest()).decode(),
        # Never replace an object, even one written since the comparison above.
        IfNoneMatch="*",
    )
    if kms_key_arn:
        arguments["SSEKMSKeyId"] = kms_key_arn
    if item.path == tagged:
        arguments["Tagging"] = urlencode([PROVISIONING_TAG])
    s3.put_object(**arguments)


def publish(
    config: Config,
    dist: Path,
    bucket: str,
    prefix: str | None = None,
    kms_key_id: str | None = None,
    region: str | None = None,
    profile: str | None = None,
    release: Release | None = None,
) -> Outcome:
    """Upload every published artifact or refuse; on a failed upload, say what did go up.

    `release` says which configuration's folder `dist` belongs to (default: the repository's);
    a dist/ packaged for another configuration is refused before any request.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    release = release if release is not None else Release(config)
    fix = release.make("package")
    prefix = (prefix if prefix is not None else default_prefix()).strip("/")
    _check_inputs(config, bucket, prefix)
    check_dist(release, dist)
    items = {item.path: item for item in packaging.read_dist(dist, fix)}
    order = published(config)
    missing = [name for name in order if name not in items]
    if missing:
        raise UserError(f"{dist} lacks {', '.join(missing)}; run `{fix}` first")

    session = aws.session(profile, region, "publish")
    outcome = Outcome(bucket, prefix, session.region_name, session.get_partition_for_region(session.region_name))
    if outcome.region not in config.regions:
        raise UserError(
            f"region {outcome.region} is not one the templates were validated for "
            f"({', '.join(config.regions)}); add it to `regions` in "
            f"{release.config_path or 'a configuration file'} and run `{release.make('build')}`"
        )
    s3 = session.client("s3", region_name=outcome.region)
    try:
        _check_bucket(s3, bucket, outcome.region)
        kms_key_arn = (
            _resolve_key(session.client("kms", region_name=outcome.region), kms_key_id, outcome.region)
            if kms_key_id
            else None
        )
        states = {name: _existing(s3, bucket, outcome.key(name), items[name]) for name in order}
    except BotoCoreError as error:  # endpoint unreachable, expired credentials, ...
        raise AwsError(f"AWS request failed before anything was uploaded: {error}") from error
    outcome.kms_key_arn = kms_key_arn or ""
    conflicts = [outcome.key(name) for name in order if states[name] == "different"]
    if conflicts:
        raise AwsError(
            f"refusing to overwrite {len(conflicts)} object(s) with other content in s3://{bucket}: "
            f"{', '.join(conflicts)}; nothing was uploaded; publish under a new --prefix"
        )
    for name in order:
        if states[name] == "same":
            outcome.unchanged.append(outcome.key(name))
            continue
        try:
            _put(s3, bucket, outcome.key(name), items[name], kms_key_arn, _file_name(config, "project"))
        except (ClientError, BotoCoreError) as error:
            reason = (
                "another upload created it meanwhile"
                if isinstance(error, ClientError) and aws.error_code(error) == "PreconditionFailed"
                else aws.describe(error)
                if isinstance(error, ClientError)
                else str(error)
            )
            pending = [outcome.key(n) for n in order[order.index(name) :] if states[n] != "same"]
            raise AwsError(
                f"upload of s3://{bucket}/{outcome.key(name)} failed ({reason}); "
                f"uploaded: {', '.join(outcome.uploaded) or 'none'}; "
                f"not uploaded: {', '.join(pending)}; the publish is incomplete: fix the cause and "
                "run it again (identical objects are skipped)"
            ) from error
        outcome.uploaded.append(outcome.key(name))
    return outcome


def next_steps(config: Config, outcome: Outcome) -> str:
    """What the person does next, with the values to paste."""
    template_url = outcome.object_url(_file_name(config, "product"))
    query = urlencode(
        {
            "templateURL": template_url,
            "stackName": naming.product_stack(config).pattern,
            "param_TemplateBucket": outcome.bucket,
            "param_TemplatePrefix": outcome.prefix,
            **({f"param_{SEED_KEY_PARAM}": outcome.kms_key_arn} if outcome.kms_key_arn else {}),
        },
        quote_via=quote,
    )
    link = (
        f"https://{CONSOLE[outcome.partition]}/cloudformation/home?region={outcome.region}#/stacks/quickcreate?{query}"
    )
    to_fill = [
        name
        for name, spec in _template_parameters(config).items()
        if "Default" not in spec and name not in ("TemplateBucket", "TemplatePrefix")
    ]
    # The launch role may decrypt the seed code only with the key the product stack is given.
    seed_key = [f"     {SEED_KEY_PARAM} = {outcome.kms_key_arn}"] if outcome.kms_key_arn else []
    return "\n".join(
        [
            f"Published to s3://{outcome.bucket}/{outcome.prefix}/ "
            f"({len(outcome.uploaded)} uploaded, {len(outcome.unchanged)} already there with the same bytes).",
            "",
            "Next steps:",
            f"1. Product template URL: {template_url}",
            "2. Create the product stack in the CloudFormation console with these parameter values:",
            f"     TemplateBucket = {outcome.bucket}",
            f"     TemplatePrefix = {outcome.prefix}",
            *seed_key,
            f"   and fill in: {', '.join(to_fill)}.",
            "   Quick-create link (opens the form with the values above):",
            f"   {link}",
            "3. In SageMaker Studio (a user whose role the portfolio is shared with): Deployments >",
            "   Projects > Create project > Organization templates, pick the product, create the project.",
        ]
    )
