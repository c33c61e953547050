"""The customer key: where templates find it and how every store uses it.

The product stack creates the key and publishes its ARN in an SSM parameter
(``naming.key_arn_parameter``). A project stack takes a ``KmsArn`` parameter whose empty
default means "the product stack's key", resolved through that SSM parameter, so a person
creating a project in Studio never copies an ARN.

Every store decides its encryption here: the artifact bucket (SSE-KMS + bucket key + a policy
that refuses other keys and plain HTTP), CodePipeline artifact stores, CodeBuild projects,
SNS topics, SageMaker jobs and endpoints.
"""

from __future__ import annotations

from awacs import s3
from awacs.aws import Bool, Condition, Deny, Policy, Principal, Statement, StringNotEqualsIfExists
from troposphere import GetAtt, If, Parameter, Sub, Template
from troposphere.codepipeline import ArtifactStore, EncryptionKey
from troposphere.s3 import (
    BucketEncryption,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
)

from generator import naming
from generator.config import Config

KEY_PARAM = "KmsArn"
USE_PRODUCT_KEY = "UseProductKey"
KEY_ARN = r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}"
# A key ARN, required (endpoint stacks get the key the project stack resolved).
KEY_ARN_PATTERN = rf"^{KEY_ARN}$"
# A key ARN or empty: empty means the product stack's key (project stacks).
KMS_KEY_ARN_PATTERN = rf"^({KEY_ARN})?$"


def add_key_parameter(template: Template, config: Config, group: str) -> If:
    """The project's key: ``KmsArn`` if given, else the product stack's key via SSM."""
    parameter = template.add_parameter(
        Parameter(
            KEY_PARAM,
            Type="String",
            Default="",
            AllowedPattern=KMS_KEY_ARN_PATTERN,
            ConstraintDescription="empty (the product's key) or a KMS key ARN",
            Description=(
                "Customer-managed KMS key for everything the project stores. Leave empty to use "
                "the key the product stack created."
            ),
        )
    )
    template.set_parameter_label(parameter, "KMS key ARN (optional)")
    template.add_parameter_to_group(parameter, group)
    return naming.empty_means_published(
        template, parameter, naming.key_arn_parameter(config), USE_PRODUCT_KEY
    )


def project_key_arn(config: Config) -> If:
    return naming.key_arn_parameter(config).or_parameter(USE_PRODUCT_KEY, KEY_PARAM)


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


def bucket_policy_document(bucket_logical_id: str, key_arn) -> Policy:
    """Deny plain HTTP, and uploads that name any encryption other than the customer key.

    Uploads without an encryption header are encrypted by the bucket default (the same key),
    which is why the key condition uses the *IfExists* form.
    """
    bucket_arn = GetAtt(bucket_logical_id, "Arn")
    objects = Sub("${%s.Arn}/*" % bucket_logical_id)
    return Policy(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="DenyInsecureTransport",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[s3.Action("*")],
                Resource=[bucket_arn, objects],
                Condition=Condition(Bool("aws:SecureTransport", "false")),
            ),
            Statement(
                Sid="DenyUploadsNotUsingKms",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[s3.PutObject],
                Resource=[objects],
                Condition=Condition(
                    StringNotEqualsIfExists("s3:x-amz-server-side-encryption", "aws:kms")
                ),
            ),
            Statement(
                Sid="DenyUploadsWithAnotherKey",
                Effect=Deny,
                Principal=Principal("*"),
                Action=[s3.PutObject],
                Resource=[objects],
                Condition=Condition(
                    StringNotEqualsIfExists(
                        "s3:x-amz-server-side-encryption-aws-kms-key-id", key_arn
                    )
                ),
            ),
        ],
    )


def pipeline_artifact_store(bucket, key_arn) -> ArtifactStore:
    return ArtifactStore(
        Type="S3",
        Location=bucket,
        EncryptionKey=EncryptionKey(Id=key_arn, Type="KMS"),
    )

