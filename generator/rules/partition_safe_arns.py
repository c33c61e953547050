"""E9060: no ARN hard-codes the aws partition."""

from generator.rules import _common as c

LITERAL_PARTITION = "arn:aws:"


class PartitionSafeArns(c.ProjectRule):
    id = "E9060"
    shortdesc = "ARNs use ${AWS::Partition}, never a literal arn:aws:"
    description = (
        "No string anywhere in the template contains arn:aws: ; ARNs are written "
        "arn:${AWS::Partition}:... so the template deploys in aws-cn and aws-us-gov too."
    )
    source_url = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html#cfn-pseudo-param-partition"

    def match(self, cfn):
        return [
            c.match(
                path,
                f"{path[1] if len(path) > 1 else path[0]}: {text[:80]!r} hard-codes "
                "the aws partition; use arn:${AWS::Partition}:",
            )
            for text, path in c.walk_strings(cfn.template, [])
            if LITERAL_PARTITION in text
        ]
