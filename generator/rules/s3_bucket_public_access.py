"""E9003: every S3 bucket blocks public access in all four ways."""

from generator.rules import _common as c

SETTINGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")


class S3BucketPublicAccessBlock(c.ProjectRule):
    id = "E9003"
    shortdesc = "S3 buckets block all public access"
    description = (
        "Every AWS::S3::Bucket sets PublicAccessBlockConfiguration with BlockPublicAcls, "
        "BlockPublicPolicy, IgnorePublicAcls and RestrictPublicBuckets all true."
    )
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"

    def match(self, cfn):
        found = []
        for name, properties, path in c.resources(cfn, "AWS::S3::Bucket"):
            block = properties.get("PublicAccessBlockConfiguration")
            if not isinstance(block, dict):
                found.append(c.match(path, f"{name}: PublicAccessBlockConfiguration is missing"))
                continue
            off = [key for key in SETTINGS if not c.is_true(block.get(key))]
            if off:
                found.append(
                    c.match(
                        path + ["PublicAccessBlockConfiguration"],
                        f"{name}: PublicAccessBlockConfiguration must set {', '.join(off)} to true",
                    )
                )
        return found
