"""The packaged template created as `make deploy` would create it, in moto's CloudFormation instead of AWS.

CloudFormation expands the SAM transform before creating anything; moto 5.2 doesn't, so `translate` does it
with aws-sam-translator (the library CloudFormation's transform is built from), after pointing the functions'
code at a bucket as `aws cloudformation package` does.

moto's CloudFormation can't build a RestApi from a `Body`, so `without_api_gateway` leaves API Gateway out (the
API, its deployment and stage, the permissions naming it) and writes a literal where `${RestAPI}` stood. moto
also creates alarms, the SES identity, the secret and the bucket policy as placeholders only: the test proves
the tables, queues, functions, roles, log groups and event source mappings, and the references between them."""
import json
import pathlib

import boto3
from samtranslator.translator.transform import transform

# moto warns of each placeholder resource (see above) whenever it reads the stack: known, not a failure.
PLACEHOLDER_WARNINGS = "ignore:Tried to parse .* not supported by moto:UserWarning"
REGION = "eu-west-3"
ARTIFACTS = "privacy-desk-artifacts"
CODE_KEY = "deployment.zip"
API_ID = "restapi0id"  # what `${RestAPI}` stands for once API Gateway is left out


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


def mentions(node, names: set) -> bool:
    text = json.dumps(node)
    return any(f'"Ref": "{n}"' in text or f'["{n}", ' in text or f"${{{n}}}" in text or f"${{{n}." in text
               for n in names)


def without_api_gateway(template: dict) -> dict:
    resources = template["Resources"]
    gone = {name for name, r in resources.items() if r["Type"].startswith("AWS::ApiGateway::")}
    gone |= {name for name, r in resources.items()
             if r["Type"] == "AWS::Lambda::Permission" and mentions(r["Properties"], gone)}
    kept = {name: r for name, r in resources.items() if name not in gone}
    text = json.dumps(kept)
    for name in gone:
        text = text.replace(f"${{{name}}}", API_ID)
    kept = json.loads(text)
    if mentions(kept, gone):
        raise ValueError(f"still refers to API Gateway after leaving it out: {sorted(gone)}")
    outputs = {name: o for name, o in template.get("Outputs", {}).items() if not mentions(o, gone)}
    return {**template, "Resources": kept, "Outputs": outputs}


def create_stack(template: dict, code: pathlib.Path, stack: str, parameters: dict) -> dict:
    """Upload the code, create the stack (moto creates it synchronously) and return its description."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=ARTIFACTS, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.upload_file(str(code), ARTIFACTS, CODE_KEY)
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName=stack, TemplateBody=json.dumps(without_api_gateway(translate(template))),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()])
    return cloudformation.describe_stacks(StackName=stack)["Stacks"][0]


def physical_ids(stack: str, kind: str) -> dict:
    """Logical id -> physical id of the stack's resources of one type."""
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack)
    return {r["LogicalResourceId"]: r["PhysicalResourceId"]
            for page in pages for r in page["StackResourceSummaries"] if r["ResourceType"] == kind}
