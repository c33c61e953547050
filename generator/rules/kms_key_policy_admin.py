"""E9031: a key policy gives every KMS action to nobody but the account root."""

from generator.rules import _common as c


def _is_account_root(principal) -> bool:
    """Exactly {"AWS": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"} (Fn::Sub)."""
    if not isinstance(principal, dict) or list(principal) != ["AWS"]:
        return False
    values = c.as_list(principal["AWS"])
    return bool(values) and all(isinstance(v, dict) and v.get("Fn::Sub") == c.ACCOUNT_ROOT for v in values)


class KmsKeyPolicyNoWildcardGrant(c.ProjectRule):
    id = "E9031"
    shortdesc = "Key policies grant kms:* only to the account root"
    description = (
        "In every AWS::KMS::Key's KeyPolicy, an Allow statement whose Action includes kms:* "
        "or *, or that uses NotAction, has as its only principal "
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:root (which delegates to IAM policies)."
    )
    source_url = "https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html"

    def match(self, cfn):
        found = []
        for name, properties, path in c.resources(cfn, "AWS::KMS::Key"):
            document = c.load_document(properties.get("KeyPolicy"))
            for statement, where in c.statements(document, path + ["KeyPolicy"]):
                if statement is None:
                    found.append(c.match(where, f"{name}: key policy statement cannot be read"))
                    continue
                if c.effect(statement) != "Allow":
                    continue
                wide = "NotAction" in statement or {"kms:*", "*"} & {a.lower() for a in c.actions(statement)}
                if wide and ("NotPrincipal" in statement or not _is_account_root(statement.get("Principal"))):
                    found.append(
                        c.match(
                            where,
                            f"{name}: statement {statement.get('Sid', '')!r} allows every KMS action to a "
                            "principal other than the account root",
                        )
                    )
        return found
