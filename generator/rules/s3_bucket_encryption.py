"""E9001: every S3 bucket encrypts with SSE-KMS under a named key, with the bucket key on."""

from generator.rules import _common as c


class S3BucketKmsEncryption(c.ProjectRule):
    id = "E9001"
    shortdesc = "S3 buckets use SSE-KMS with a customer key and the bucket key"
    description = (
        "Every AWS::S3::Bucket has BucketEncryption whose every rule sets SSEAlgorithm aws:kms, "
        "a KMSMasterKeyID (not an AWS-managed alias/aws/ key) and BucketKeyEnabled true."
    )
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html"

    def match(self, cfn):
        found = []
        for name, properties, path in c.resources(cfn, "AWS::S3::Bucket"):
            rules = c.get(properties, "BucketEncryption", "ServerSideEncryptionConfiguration")
            if not isinstance(rules, list) or not rules:
                found.append(
                    c.match(
                        c.missing_path(path, properties, "BucketEncryption", "ServerSideEncryptionConfiguration"),
                        f"{name}: bucket has no readable BucketEncryption.ServerSideEncryptionConfiguration "
                        "(must be SSE-KMS with the customer key)",
                    )
                )
                continue
            for index, rule in enumerate(rules):
                where = path + ["BucketEncryption", "ServerSideEncryptionConfiguration", index]
                default = c.get(rule, "ServerSideEncryptionByDefault")
                if c.get(default, "SSEAlgorithm") != "aws:kms":
                    found.append(
                        c.match(
                            where + ["ServerSideEncryptionByDefault"],
                            f"{name}: SSEAlgorithm must be aws:kms",
                        )
                    )
                if not c.is_customer_key(c.get(default, "KMSMasterKeyID")):
                    found.append(
                        c.match(
                            where + ["ServerSideEncryptionByDefault"],
                            f"{name}: KMSMasterKeyID must name the customer key",
                        )
                    )
                if not c.is_true(c.get(rule, "BucketKeyEnabled")):
                    found.append(c.match(where, f"{name}: BucketKeyEnabled must be true"))
        return found
