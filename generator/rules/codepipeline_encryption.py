"""E9011: every CodePipeline artifact store encrypts with the customer key."""

from generator.rules import _common as c


class CodePipelineArtifactStoreKey(c.ProjectRule):
    id = "E9011"
    shortdesc = "CodePipeline artifact stores set EncryptionKey"
    description = (
        "Every AWS::CodePipeline::Pipeline's ArtifactStore, and each entry of ArtifactStores, "
        "has EncryptionKey.Id naming the customer key; without it CodePipeline uses the "
        "AWS-managed aws/s3 key."
    )
    source_url = "https://docs.aws.amazon.com/codepipeline/latest/userguide/S3-artifact-encryption.html"

    def match(self, cfn):
        found = []
        for name, properties, path in c.resources(cfn, "AWS::CodePipeline::Pipeline"):
            stores = []
            if "ArtifactStore" in properties:
                stores.append((properties["ArtifactStore"], path + ["ArtifactStore"]))
            for index, entry in enumerate(c.as_list(properties.get("ArtifactStores"))):
                stores.append((c.get(entry, "ArtifactStore"), path + ["ArtifactStores", index, "ArtifactStore"]))
            if not stores:
                found.append(c.match(path, f"{name}: pipeline has no ArtifactStore or ArtifactStores"))
            for store, where in stores:
                if not c.is_customer_key(c.get(store, "EncryptionKey", "Id")):
                    found.append(c.match(where, f"{name}: artifact store EncryptionKey.Id must name the customer key"))
        return found
