"""The customer key: where templates find it and how every store uses it.

The product stack creates the key and publishes its ARN in an SSM parameter
(``naming.key_arn_parameter``); a project stack reads it from there (``project_key_arn``), so a
person creating a project in Studio never sees or copies an ARN.

The stores whose encryption is more than naming the key are configured here: the artifact
bucket (SSE-KMS + bucket key + a policy that refuses other keys, plain HTTP and principals
outside the team) and the CodePipeline artifact stores. The others name the key where they are
built: CodeBuild projects and their log groups (``project_template``), SNS topics, endpoint
configs and async outputs (``endpoint_template``), SageMaker jobs (the seed code).
"""

from __future__ import annotations

from awacs import s3
from awacs.aws import (
    Bool,
    BoolIfExists,
    Condition,
    Deny,
    Null,
    Policy,
    Principal,
    Statement,
    StringNotEquals,
)
from troposphere import GetAtt, Sub
from troposphere.codepipeline import ArtifactStore, EncryptionKey
from troposphere.s3 import (
    BucketEncryption,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
)

from generator import naming
from generator.config import Config
from generator.tagging import TEAM_TAG

KEY_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}"
# A key ARN, required (endpoint stacks get the key the project stack resolved).
KEY_ARN_PATTERN = rf"^{KEY_ARN}$"


def project_key_arn(config: Config) -> str:
    """The product stack's key, read from SSM when the project stack is created or updated.

    Not a Studio parameter: the roles may use this team's key and no other, so any other ARN a
    user typed would only fail later, at the first write. The SSM parameter outlives the product
    stack (``DeletionPolicy: Retain``), so a re-created product stack cannot re-point existing
    projects at a new key while their data stays under the old one.
    """
    return naming.key_arn_parameter(config).ssm_reference()


def bucket_encryption(key_arn) -> BucketEncryption:
    # The bucket key cuts KMS requests (and cost) by caching a bucket-level data key.
    return BucketEncryption(
        ServerSideEncryptionConfiguration=[
            ServerSideEncryptionRule(
                ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(
                    SSEAlgorithm="aws:kms", KMSMasterKeyID=key_arn
                ),
                BucketKeyEnabled=True,
            )
        ]
    )


def bucket_policy_document(bucket_logical_id: str, key_arn, team: str) -> Policy:
    """Deny plain HTTP, uploads that name any encryption other than the customer key, and
    every principal that is not the team's.

    Uploads without an encryption header are encrypted by the bucket default (the same key), so
    the two key conditions deny only a header that is present and names something else (a
    ``*IfExists`` form would deny every upload without the header). The team's roles and people carry
    the team tag (``tagging.TEAM_TAG``); any other principal of the account is refused whatever
    its identity policy allows (a job role with AWS's AmazonSageMakerJobFullAccess may read any
    bucket of its account). AWS services acting as themselves are not principals of the
    account and are left to the other statements.
    """
    bucket_arn = GetAtt(bucket_logical_id, "Arn")
    objects = Sub(f"${{{bucket_logical_id}.Arn}}/*")
    return Policy(
        Version="2012-10-17",
        Statement=[
            _deny(
                "DenyPrincipalsOutsideTheTeam",
                [s3.Action("*")],
                [bucket_arn, objects],
                [
                    StringNotEquals(f"aws:PrincipalTag/{TEAM_TAG}", team),
                    BoolIfExists("aws:PrincipalIsAWSService", "false"),
                ],
            ),
            _deny(
                "DenyInsecureTransport",
                [s3.Action("*")],
                [bucket_arn, objects],
                [
                    Bool("aws:SecureTransport", "false"),
                ],
            ),
            _deny(
                "DenyUploadsNotUsingKms",
                [s3.PutObject],
                [objects],
                _present_and_not("s3:x-amz-server-side-encryption", "aws:kms"),
            ),
            _deny(
                "DenyUploadsWithAnotherKey",
                [s3.PutObject],
                [objects],
                _present_and_not("s3:x-amz-server-side-encryption-aws-kms-key-id", key_arn),
            ),
        ],
    )


def _deny(sid: str, actions: list, resources: list, conditions: list) -> Statement:
    return Statement(
        Sid=sid,
        Effect=Deny,
        Principal=Principal("*"),
        Action=actions,
        Resource=resources,
        Condition=Condition(conditions),
    )


def _present_and_not(header: str, value) -> list:
    """The request names ``header`` with another value (see bucket_policy_document)."""
    return [Null(header, "false"), StringNotEquals(header, value)]


def pipeline_artifact_store(bucket, key_arn) -> ArtifactStore:
    return ArtifactStore(
        Type="S3",
        Location=bucket,
        EncryptionKey=EncryptionKey(Id=key_arn, Type="KMS"),
    )
