"""E9022: every CloudWatch Logs log group encrypts with the customer key."""

from generator.rules import _common as c


class LogGroupKmsKey(c.ProjectRule):
    id = "E9022"
    shortdesc = "Log groups set KmsKeyId"
    description = (
        "Every AWS::Logs::LogGroup sets KmsKeyId to the customer key; build and job logs can hold data and parameters."
    )
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"

    def match(self, cfn):
        return [
            c.match(path, f"{name}: KmsKeyId must name the customer key")
            for name, properties, path in c.resources(cfn, "AWS::Logs::LogGroup")
            if not c.is_customer_key(properties.get("KmsKeyId"))
        ]
