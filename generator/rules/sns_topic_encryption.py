"""E9021: every SNS topic encrypts messages at rest with the customer key."""

from generator.rules import _common as c


class SnsTopicKmsKey(c.ProjectRule):
    id = "E9021"
    shortdesc = "SNS topics set KmsMasterKeyId"
    description = (
        "Every AWS::SNS::Topic sets KmsMasterKeyId to the customer key (not alias/aws/sns, "
        "which SageMaker and other services cannot publish through)."
    )
    source_url = "https://docs.aws.amazon.com/sns/latest/dg/sns-server-side-encryption.html"

    def match(self, cfn):
        return [
            c.match(path, f"{name}: KmsMasterKeyId must name the customer key")
            for name, properties, path in c.resources(cfn, "AWS::SNS::Topic")
            if not c.is_customer_key(properties.get("KmsMasterKeyId"))
        ]
