"""The packaged template as CloudFormation sees it once it has expanded the SAM transform.

`translate` expands it with aws-sam-translator (the library CloudFormation's transform is built from), after
pointing the functions' code at a bucket as `aws cloudformation package` does."""
import json

from samtranslator.translator.transform import transform

REGION = "eu-west-3"
ARTIFACTS = "privacy-desk-artifacts"
CODE_KEY = "deployment.zip"


class NoManagedPolicies:
    """Every role is the template's own, with inline policies only: SAM has no managed policy to look up."""

    def load(self) -> dict:
        return {}


def translate(template: dict) -> dict:
    sam = json.loads(json.dumps(template))
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = {"Bucket": ARTIFACTS, "Key": CODE_KEY}
    return transform(sam, {"AWS::Region": REGION}, NoManagedPolicies())
