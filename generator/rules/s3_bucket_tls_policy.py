"""E9004: every S3 bucket has a bucket policy that refuses requests without TLS."""

from generator.rules import _common as c


def _arn_text(value) -> str | None:
    """A Resource entry as text: GetAtt B.Arn -> ${B.Arn}; Sub strings as written."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, args),) = value.items()
        if function == "Fn::GetAtt":
            parts = args.split(".", 1) if isinstance(args, str) else args
            if isinstance(parts, list) and len(parts) == 2:
                return "${" + f"{parts[0]}.{parts[1]}" + "}"
        if function == "Fn::Sub":
            body = args[0] if isinstance(args, list) and args else args
            return body if isinstance(body, str) else None
    return None


def _denies_plain_http(statement: dict, bucket: str) -> bool:
    if c.effect(statement) != "Deny":
        return False
    if statement.get("Principal") not in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
        return False
    if not {"s3:*", "*"} & {a.lower() for a in c.actions(statement)}:
        return False
    secure = c.get(statement, "Condition", "Bool", "aws:SecureTransport")
    if secure not in (False, "false"):
        return False
    # Both the bucket and its objects: a Deny on objects only leaves bucket calls over HTTP.
    texts = [_arn_text(r) for r in c.as_list(statement.get("Resource"))]
    refs = ("${" + bucket + "}", "${" + bucket + ".Arn}")
    mine = [t for t in texts if t and any(ref in t for ref in refs)]
    return any(t.endswith("/*") for t in mine) and any(not t.endswith("/*") for t in mine)


class S3BucketTlsOnlyPolicy(c.ProjectRule):
    id = "E9004"
    shortdesc = "S3 buckets have a policy denying requests without TLS"
    description = (
        "Every AWS::S3::Bucket is the Bucket (by Ref) of an AWS::S3::BucketPolicy with a "
        "statement that Denies s3:* to Principal * on the bucket and its objects when "
        "aws:SecureTransport is false."
    )
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/security-best-practices.html"

    def match(self, cfn):
        policies: dict[str, list[dict]] = {}
        for _, properties, _ in c.resources(cfn, "AWS::S3::BucketPolicy"):
            ref = c.get(properties, "Bucket", "Ref")
            if isinstance(ref, str):
                document = c.load_document(properties.get("PolicyDocument"))
                policies.setdefault(ref, []).extend(s for s, _ in c.statements(document, []) if s is not None)
        found = []
        for name, _, path in c.resources(cfn, "AWS::S3::Bucket"):
            if name not in policies:
                found.append(c.match(path[:2], f"{name}: no AWS::S3::BucketPolicy refers to this bucket by Ref"))
            elif not any(_denies_plain_http(s, name) for s in policies[name]):
                found.append(
                    c.match(
                        path[:2],
                        f"{name}: its bucket policy has no Deny of s3:* to * on the bucket and "
                        "its objects when aws:SecureTransport is false",
                    )
                )
        return found
