"""E9020: every SageMaker endpoint config encrypts volumes, async outputs and data capture."""

from generator.rules import _common as c


class SageMakerEndpointConfigKeys(c.ProjectRule):
    id = "E9020"
    shortdesc = "SageMaker endpoint configs encrypt volumes, async outputs and captured data"
    description = (
        "Every AWS::SageMaker::EndpointConfig sets KmsKeyId (instance storage); if it has "
        "AsyncInferenceConfig, OutputConfig.KmsKeyId (results in S3); if it has "
        "DataCaptureConfig, its KmsKeyId (captured requests and responses)."
    )
    source_url = "https://docs.aws.amazon.com/sagemaker/latest/dg/encryption-at-rest.html"

    def match(self, cfn):
        found = []
        for name, properties, path in c.resources(cfn, "AWS::SageMaker::EndpointConfig"):
            if not c.is_customer_key(properties.get("KmsKeyId")):
                found.append(c.match(path, f"{name}: KmsKeyId must name the customer key"))
            if "AsyncInferenceConfig" in properties:
                output = c.get(properties, "AsyncInferenceConfig", "OutputConfig")
                if not c.is_customer_key(c.get(output, "KmsKeyId")):
                    found.append(
                        c.match(
                            c.missing_path(path, properties, "AsyncInferenceConfig", "OutputConfig"),
                            f"{name}: AsyncInferenceConfig.OutputConfig.KmsKeyId must name the customer key",
                        )
                    )
            if "DataCaptureConfig" in properties and not c.is_customer_key(
                c.get(properties, "DataCaptureConfig", "KmsKeyId")
            ):
                found.append(
                    c.match(
                        path + ["DataCaptureConfig"],
                        f"{name}: DataCaptureConfig.KmsKeyId must name the customer key",
                    )
                )
        return found
