"""E9010: every CodeBuild project encrypts its artifacts with the customer key."""

from generator.rules import _common as c


class CodeBuildEncryptionKey(c.ProjectRule):
    id = "E9010"
    shortdesc = "CodeBuild projects set EncryptionKey"
    description = (
        "Every AWS::CodeBuild::Project sets EncryptionKey to the customer key; without it "
        "CodeBuild uses the AWS-managed aws/s3 key."
    )
    source_url = "https://docs.aws.amazon.com/codebuild/latest/userguide/security-encryption.html"

    def match(self, cfn):
        return [
            c.match(path, f"{name}: EncryptionKey must name the customer key")
            for name, properties, path in c.resources(cfn, "AWS::CodeBuild::Project")
            if not c.is_customer_key(properties.get("EncryptionKey"))
        ]
