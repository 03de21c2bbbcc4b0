"""Post-process `chalice package` output: the stream handler reports failures, and a poison record can't
hold its shard.

Chalice's on_dynamodb_record sets none of the event source mapping's failure options, so the SAM template is
patched:
- `FunctionResponseTypes: [ReportBatchItemFailures]` on the DynamoDB event and STREAM_FAILURE_MODE=report on
  the function, telling the handler to return the failed records instead of raising. Without both, a returned
  failure list would be ignored by Lambda and the notice lost — so the two go together.
- `BisectBatchOnFunctionError`, `MaximumRetryAttempts` and `MaximumRecordAgeInSeconds`: a record that keeps
  failing is split off from the others and given up on within minutes, instead of Lambda's defaults (retry
  until the record leaves the stream, 24 hours later) during which every later record of its shard — every
  other client's verification email — waits behind it.
- `DestinationConfig.OnFailure`: what is given up on is written to an SQS queue this patch adds (SSE, 14 days,
  kept when the stack is deleted),
  with a `sqs:SendMessage` grant on that queue alone in the function's role, an alarm on its depth, and its URL
  as an output. docs/deploying.md says what an operator does with a message there.

With the stage's resources merged in (`--merge-template deploy/resources.json`, devtools/template.py), `wire`
also sets what a merge can't:
- the SQS event's `Queue`: Chalice writes it as a `Fn::Sub` of the queue's name, and merging a `Fn::GetAtt`
  into that dict would give one value with two functions; it is replaced by the template's queue's ARN;
- the API's Lambda integration names the API handler by its fixed name instead of `${APIHandler.Arn}`: the
  handler's PUBLIC_BASE_URL refers to the API, and the API referring back to the handler would be a cycle
  CloudFormation refuses;
- the stream failure alarm notifies the template's alarm topic.
It then refuses a value where a merge left two intrinsic functions side by side.

usage: python -m devtools.patch_sam out/sam.json
"""
import json
import sys

# Lambda's own retries are for failures that outlast one invocation (botocore already retries throttling
# inside it, chalicelib/aws.py): a few cover a brief SES or DynamoDB outage; a refused address fails every time,
# and each retry holds up the shard.
MAX_RETRY_ATTEMPTS = 3
# One hour: a verification email an hour late is still useful (its link lives 24 h); a record that old is stuck,
# and the shard behind it must move on. It also bounds retries slowed by timeouts, which the count doesn't.
MAX_RECORD_AGE_SECONDS = 3600
# SQS's maximum: operators have two weeks to read and replay a failed batch.
FAILURE_RETENTION_SECONDS = 14 * 24 * 3600

QUEUE = "StreamFailureQueue"
ALARM = "StreamFailureQueueAlarm"
QUEUE_URL_OUTPUT = "StreamFailureQueueUrl"
SEND_SID = "StreamFailureQueue"
KEEP = {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}


def patch(template: dict) -> int:
    resources = template.setdefault("Resources", {})
    patched = 0
    for name, resource in list(resources.items()):
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.setdefault("Properties", {})
        streams = [e for e in props.get("Events", {}).values() if e.get("Type") == "DynamoDB"]
        if not streams:
            continue
        for event in streams:
            event["Properties"].update({
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                "BisectBatchOnFunctionError": True,
                "MaximumRetryAttempts": MAX_RETRY_ATTEMPTS,
                "MaximumRecordAgeInSeconds": MAX_RECORD_AGE_SECONDS,
                "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [QUEUE, "Arn"]}}},
            })
        variables = props.setdefault("Environment", {}).setdefault("Variables", {})
        variables["STREAM_FAILURE_MODE"] = "report"
        grant_send(resources, name, props)
        patched += 1
    if patched:
        add_failure_queue(template)
    return patched


def grant_send(resources: dict, function: str, props: dict) -> None:
    """Add sqs:SendMessage on the failure queue to the function's own role.

    The role is given explicitly (autogen_policy is off: Chalice inlines the stage's policy file into a role per
    function), so SAM adds no destination permission itself — and Lambda refuses the mapping without it."""
    role = props.get("Role")
    role_name = role.get("Fn::GetAtt", [None])[0] if isinstance(role, dict) else None
    if role_name not in resources or resources[role_name].get("Type") != "AWS::IAM::Role":
        raise ValueError(f"{function}: its role is not a role of this template, so it can't be granted "
                         "sqs:SendMessage on the failure queue")
    policies = resources[role_name]["Properties"].get("Policies") or []
    if not policies:
        raise ValueError(f"{function}: role {role_name} has no inline policy to extend")
    statements = policies[0]["PolicyDocument"]["Statement"]
    statements[:] = [s for s in statements if s.get("Sid") != SEND_SID]  # patching twice adds it once
    statements.append({"Sid": SEND_SID, "Effect": "Allow", "Action": ["sqs:SendMessage"],
                       "Resource": {"Fn::GetAtt": [QUEUE, "Arn"]}})


def add_failure_queue(template: dict) -> None:
    resources = template["Resources"]
    # No QueueName: CloudFormation names it after the stack, so stages don't collide. Kept once created: its
    # messages are the only trace of notices never sent, to be read even after the stage is torn down or the
    # queue replaced (and, unnamed, a kept queue blocks no new stack).
    resources[QUEUE] = {"Type": "AWS::SQS::Queue", **KEEP, "Properties": {
        "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": FAILURE_RETENTION_SECONDS,
    }}
    # Any message means an email may not have gone out: one is enough to look. No action is attached (the
    # template has no topic); subscribe the stage's on-call channel to it.
    resources[ALARM] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": "A stream batch failed for good: see docs/deploying.md, failed stream batches",
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [QUEUE, "QueueName"]}}],
        "Statistic": "Maximum",
        "Period": 300,
        "EvaluationPeriods": 1,
        "Threshold": 0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching",
    }}
    template.setdefault("Outputs", {})[QUEUE_URL_OUTPUT] = {"Value": {"Ref": QUEUE}}


EXECUTION_QUEUE = "ExecutionQueue"
ALARM_TOPIC = "AlarmTopic"
API_HANDLER_ARN = "${APIHandler.Arn}"
API_HANDLER_BY_NAME = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-api"


def wire(template: dict) -> None:
    resources = template["Resources"]
    if EXECUTION_QUEUE not in resources:
        raise ValueError("no ExecutionQueue: package with --merge-template deploy/resources.json")
    for resource in resources.values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") == "SQS":
                event["Properties"]["Queue"] = {"Fn::GetAtt": [EXECUTION_QUEUE, "Arn"]}
    api = resources["APIHandler"]["Properties"]
    if api.get("FunctionName") != {"Fn::Sub": "${AWS::StackName}-api"}:
        raise ValueError("APIHandler has no fixed FunctionName for the API's integration to name")
    body = json.dumps(resources["RestAPI"]["Properties"]["DefinitionBody"])
    resources["RestAPI"]["Properties"]["DefinitionBody"] = json.loads(body.replace(API_HANDLER_ARN,
                                                                                  API_HANDLER_BY_NAME))
    if ALARM_TOPIC in resources and ALARM in resources:
        resources[ALARM]["Properties"]["AlarmActions"] = [{"Ref": ALARM_TOPIC}]
    mixed = list(merged_intrinsics(template))
    if mixed:
        raise ValueError(f"a merge left two intrinsic functions in one value: {mixed}")


def merged_intrinsics(node, path="$"):
    if isinstance(node, dict):
        functions = [k for k in node if k == "Ref" or k.startswith("Fn::")]
        if len(node) > 1 and functions:
            yield path
        for key, value in node.items():
            yield from merged_intrinsics(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from merged_intrinsics(value, f"{path}[{i}]")


def main(path: str) -> None:
    with open(path) as f:
        template = json.load(f)
    if patch(template) == 0:
        raise SystemExit(f"{path}: no DynamoDB stream function found to patch")
    wire(template)
    with open(path, "w") as f:
        json.dump(template, f, indent=2)
    print(f"{path}: stream handler reports batch item failures; failed batches go to {QUEUE}")


if __name__ == "__main__":
    main(sys.argv[1])
