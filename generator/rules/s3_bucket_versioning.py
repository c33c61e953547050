"""E9002: every S3 bucket keeps object versions."""

from generator.rules import _common as c


class S3BucketVersioning(c.ProjectRule):
    id = "E9002"
    shortdesc = "S3 buckets have versioning enabled"
    description = "Every AWS::S3::Bucket sets VersioningConfiguration.Status to Enabled."
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html"

    def match(self, cfn):
        found = []
        for name, properties, path in c.resources(cfn, "AWS::S3::Bucket"):
            status = c.get(properties, "VersioningConfiguration", "Status")
            if any(value != "Enabled" for value in c.branches(status)):
                found.append(
                    c.match(
                        c.missing_path(path, properties, "VersioningConfiguration", "Status"),
                        f"{name}: VersioningConfiguration.Status must be Enabled",
                    )
                )
        return found
