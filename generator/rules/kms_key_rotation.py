"""E9030: every symmetric KMS key rotates its key material."""

from generator.rules import _common as c

# KMS rotates only symmetric encryption keys; for asymmetric and HMAC keys it refuses
# EnableKeyRotation, so the rule does not ask for it there.
ROTATABLE_SPECS = (None, "SYMMETRIC_DEFAULT")


class KmsKeyRotation(c.ProjectRule):
    id = "E9030"
    shortdesc = "KMS keys rotate"
    description = "Every symmetric AWS::KMS::Key (KeySpec absent or SYMMETRIC_DEFAULT) sets EnableKeyRotation true."
    source_url = "https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html"

    def match(self, cfn):
        return [
            c.match(path, f"{name}: EnableKeyRotation must be true")
            for name, properties, path in c.resources(cfn, "AWS::KMS::Key")
            if properties.get("KeySpec") in ROTATABLE_SPECS and not c.is_true(properties.get("EnableKeyRotation"))
        ]
