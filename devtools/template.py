"""Write deploy/resources.json: what `chalice package --merge-template` adds to (or overrides in) Chalice's
SAM template so one CloudFormation stack holds the whole stage.

Chalice generates the functions, their roles and events, and the API; this adds the tables (from
devtools/tables.py, i.e. from the PynamoDB models), the documents bucket, the execution queue and its
dead-letter queue, the SES sender, the token secret, the functions' log groups, the alarms and their topic,
and wires every function to them by reference: environment variables by Ref/GetAtt, each role's policy by
Ref/GetAtt/Sub, the stream and queue events by GetAtt. No name or ARN is written twice, and no secret at all.

Chalice merges dictionaries key by key and replaces everything else (strings, lists): a role's `Policies`
list is replaced whole, an environment variable's value too. An intrinsic that replaces another intrinsic
would be merged into a dict with two functions, so those (the SQS event's `Queue`) are set by
devtools/patch_sam.py after the merge instead.

usage: python -m devtools.template [deploy/resources.json]
"""
import json
import pathlib
import sys

from devtools import roles, tables

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "deploy" / "resources.json"

# Chalice's logical ids for app.py's functions and their roles (`chalice package` derives them from the
# handler names; the API handler's role is spelled ApiHandlerRole).
FUNCTIONS = {
    "APIHandler": "ApiHandlerRole",
    "OnRequestChange": "OnRequestChangeRole",
    "ExecutionWorker": "ExecutionWorkerRole",
    "DailyReminders": "DailyRemindersRole",
    "HousekeepingRun": "HousekeepingRunRole",
}
STREAM_FUNCTION = "OnRequestChange"
QUEUE_FUNCTION = "ExecutionWorker"
# Every function gets a fixed name, so what must exist before it can name it without depending on it:
# - the API's integration names the API handler (its PUBLIC_BASE_URL depends on the API: a cycle otherwise);
# - each log group is named after its function, and the function waits for its group (DependsOn): a group
#   that named the function by Ref would be created after it, and a first invocation in between would make
#   Lambda create the group itself, failing the template's create with "already exists".
FUNCTION_NAMES = {
    "APIHandler": "api",
    "OnRequestChange": "on-request-change",
    "ExecutionWorker": "execution-worker",
    "DailyReminders": "daily-reminders",
    "HousekeepingRun": "housekeeping-run",
}
# app.py's handler names, by their logical ids.
HANDLERS = {"APIHandler": "api_handler", "OnRequestChange": "on_request_change", "ExecutionWorker": "execution_worker",
            "DailyReminders": "daily_reminders", "HousekeepingRun": "housekeeping_run"}


def function_name(function: str) -> dict:
    return {"Fn::Sub": f"${{AWS::StackName}}-{FUNCTION_NAMES[function]}"}


def log_group(function: str) -> str:
    return f"{function}LogGroup"


API_FUNCTION_NAME = function_name("APIHandler")
REQUESTS = tables.logical_id("REQUESTS_TABLE")
BUCKET = "DocumentsBucket"
QUEUE = "ExecutionQueue"
DEAD_LETTERS = "ExecutionDeadLetterQueue"
SECRET = "TokenSecret"
TOPIC = "AlarmTopic"
# Kept when the stack is deleted or an update replaces them, but not when the stack's own creation rolls back:
# a Retain there would leave the fixed-name tables behind, and every retry would fail on them.
KEEP = {"DeletionPolicy": "RetainExceptOnCreate", "UpdateReplacePolicy": "Retain"}
# Deleted with the stack (CloudFormation's default, written so that it is chosen, not forgotten).
DELETE = {"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}
# 90 days: a request may stay open three months (one, extended by two: Art. 12(3)), and its logs must still
# explain it when someone asks; longer would keep the logs' pseudonyms of clients for no purpose (Art. 5(1)(e)).
# A stage that needs another span sets the LogRetentionDays parameter (make deploy LOG_RETENTION_DAYS=...).
LOG_RETENTION_DAYS = 90
# The values CloudWatch Logs accepts for a retention.
LOG_RETENTION_CHOICES = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                         2922, 3288, 3653]
# Chalice writes a Swagger 2.0 body. Any OpenApiVersion stops SAM from adding a second stage named "Stage"
# next to the "api" one; this one says what the body is.
OPEN_API_VERSION = "2.0"

# Above the worker's 300 s Lambda timeout (six times, as AWS advises for SQS event sources), so a slice still
# running is never handed to a second worker. devtools/stack.py gives the local queue the same.
EXECUTION_VISIBILITY_SECONDS = 1800
# A message received this often without being deleted is moved aside, so a message that kills its worker
# every time can't loop for 14 days. Nothing is lost: the request item, not the message, holds the work, and
# the watchdog (housekeeping_run) queues an overdue request again; the alarm tells an operator to look.
MAX_RECEIVES = 5
FOURTEEN_DAYS = 14 * 24 * 3600
# Exports are copies of a client's data: gone once their 30-day link is dead.
EXPORT_DAYS = 31
# An export abandoned half-way leaves an invisible, billed multipart upload; a later execution starts over.
ABANDONED_UPLOAD_DAYS = 3


def table_resources() -> dict:
    resources = {}
    for variable, definition in tables.definitions().items():
        _, suffix = tables.TABLES[variable]
        resources[tables.logical_id(variable)] = {"Type": "AWS::DynamoDB::Table", **KEEP, "Properties": {
            "TableName": {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"},
            **definition,
            # A stack update or a slip must not drop a team's records: deleting a table is deliberate (docs/deploying.md).
            "DeletionProtectionEnabled": True,
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        }}
    return resources


def bucket_resources() -> dict:
    return {
        # No name: S3 names are global; CloudFormation derives one from the stack. No versioning: an erasure
        # must delete a client's documents for real, not leave them as old versions.
        BUCKET: {"Type": "AWS::S3::Bucket", **KEEP, "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
                                               "BlockPublicPolicy": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": [
                {"Id": "expire-exports", "Status": "Enabled", "Prefix": "exports/", "ExpirationInDays": EXPORT_DAYS},
                {"Id": "abort-abandoned-uploads", "Status": "Enabled",
                 "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABANDONED_UPLOAD_DAYS}},
            ]},
        }},
        f"{BUCKET}Policy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": BUCKET},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [{"Fn::GetAtt": [BUCKET, "Arn"]}, {"Fn::Sub": f"${{{BUCKET}.Arn}}/*"}],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]},
        }},
    }


def queue_resources() -> dict:
    return {
        # Deleted: a message only points at a request; the request item holds the work, and the watchdog queues
        # an overdue request again.
        QUEUE: {"Type": "AWS::SQS::Queue", **DELETE, "Properties": {
            "SqsManagedSseEnabled": True,
            "VisibilityTimeout": EXECUTION_VISIBILITY_SECONDS,
            "MessageRetentionPeriod": FOURTEEN_DAYS,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [DEAD_LETTERS, "Arn"]},
                              "maxReceiveCount": MAX_RECEIVES},
        }},
        # Deleted: its messages name requests the watchdog queues again anyway, and the alarm has already fired.
        DEAD_LETTERS: {"Type": "AWS::SQS::Queue", **DELETE, "Properties": {
            "SqsManagedSseEnabled": True, "MessageRetentionPeriod": FOURTEEN_DAYS}},
    }


def other_resources() -> dict:
    return {
        # Signs bearer tokens and every emailed link. Generated by Secrets Manager: its value is in no file.
        # Retained: losing it would void every token and link (and the pseudonyms keyed by it).
        SECRET: {"Type": "AWS::SecretsManager::Secret", **KEEP, "Properties": {
            "Description": {"Fn::Sub": "${AWS::StackName}: key of tokens and emailed links"},
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        }},
        "SenderIdentity": {"Type": "AWS::SES::EmailIdentity", "Properties": {"EmailIdentity": {"Ref": "SenderEmail"}}},
        TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {
            "DisplayName": {"Fn::Sub": "${AWS::StackName} alarms"}}},
        "AlarmSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail", "Properties": {
            "TopicArn": {"Ref": TOPIC}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}},
    }


def log_group_resources() -> dict:
    # Deleted with the stack: logs explain incidents of a running stage, the requests' own records (in the kept
    # tables) are the proof; a kept group would also block re-creating the stage, its name being fixed.
    return {log_group(function): {"Type": "AWS::Logs::LogGroup", **DELETE, "Properties": {
        "LogGroupName": {"Fn::Sub": "/aws/lambda/" + function_name(function)["Fn::Sub"]},
        "RetentionInDays": {"Ref": "LogRetentionDays"},
    }} for function in FUNCTIONS}


def alarm(description: str, namespace: str, metric: str, dimension: dict, statistic: str = "Sum") -> dict:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": namespace, "MetricName": metric,
        "Dimensions": [dimension], "Statistic": statistic, "Period": 300, "EvaluationPeriods": 1,
        "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
        "AlarmActions": [{"Ref": TOPIC}]}}


def alarm_resources() -> dict:
    # Any error or throttle is worth a look: each one is an email late, a page failing or a slice retried.
    resources = {}
    for function in FUNCTIONS:
        dimension = {"Name": "FunctionName", "Value": {"Ref": function}}
        resources[f"{function}ErrorsAlarm"] = alarm(f"{function} failed", "AWS/Lambda", "Errors", dimension)
        resources[f"{function}ThrottlesAlarm"] = alarm(f"{function} was throttled", "AWS/Lambda", "Throttles",
                                                       dimension)
    resources[f"{DEAD_LETTERS}Alarm"] = alarm(
        "An execution message failed 5 times: read the request it names and the worker's log",
        "AWS/SQS", "ApproximateNumberOfMessagesVisible",
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [DEAD_LETTERS, "QueueName"]}}, "Maximum")
    return resources


def environment() -> dict:
    variables = {variable: {"Ref": tables.logical_id(variable)} for variable in tables.TABLES}
    variables.update({
        "DOCUMENTS_BUCKET": {"Ref": BUCKET},
        "EXECUTION_QUEUE": {"Fn::GetAtt": [QUEUE, "QueueName"]},
        "SENDER_EMAIL": {"Ref": "SenderEmail"},
        "TOKEN_SECRET_ARN": {"Ref": SECRET},
        # app.py declares the stream handler with it; the code reads nothing else from it.
        "REQUESTS_STREAM_ARN": {"Fn::GetAtt": [REQUESTS, "StreamArn"]},
        "PUBLIC_BASE_URL": {"Fn::If": ["HasPublicBaseUrl", {"Ref": "PublicBaseUrl"},
                                       {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"}]},
    })
    return variables


def resource(abstract: str, handler: str):
    """deploy/roles.json's name of a resource (devtools/roles.py) as this template's reference to it."""
    kind, _, name = abstract.partition(":")
    if kind in ("table", "index", "stream"):
        variable, _, index = name.partition("/")
        table = tables.logical_id(variable)
        return {"table": {"Fn::GetAtt": [table, "Arn"]}, "stream": {"Fn::GetAtt": [table, "StreamArn"]},
                "index": {"Fn::Sub": f"${{{table}.Arn}}/index/{index}"}}[kind]
    account = "arn:${AWS::Partition}:%s:${AWS::Region}:${AWS::AccountId}:"
    return {
        "objects:DOCUMENTS_BUCKET": {"Fn::Sub": f"${{{BUCKET}.Arn}}/*"},
        "bucket:DOCUMENTS_BUCKET": {"Fn::GetAtt": [BUCKET, "Arn"]},
        "queue:EXECUTION_QUEUE": {"Fn::GetAtt": [QUEUE, "Arn"]},
        # SES checks the identities of this account and region (in the sandbox the recipients' too); the
        # condition keeps the sender to the stack's own address.
        "identity:SENDER_EMAIL": {"Fn::Sub": account % "ses" + "identity/*"},
        "secret:TOKEN_SECRET_ARN": {"Ref": SECRET},
        # the function's own log group (its Arn ends in ":*": the group's streams)
        "logs:self": {"Fn::GetAtt": [log_group(LOGICAL_IDS[handler]), "Arn"]},
    }[abstract]


LOGICAL_IDS = {handler: logical for logical, handler in HANDLERS.items()}
SENDER_ONLY = {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}


def role_policy(handler: str) -> dict:
    """The function's own policy: what deploy/roles.json says it calls, on this stack's resources only."""
    statements = roles.statements(handler, lambda abstract: resource(abstract, handler))
    for statement in statements:
        if any(action.startswith("ses:") for action in statement["Action"]):
            statement["Condition"] = SENDER_ONLY
    return {"PolicyName": "privacy-desk", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}


def function_overrides() -> dict:
    resources = {}
    for function, role in FUNCTIONS.items():
        props = {"Environment": {"Variables": environment()}, "FunctionName": function_name(function)}
        if function == STREAM_FUNCTION:
            events = {"OnRequestChangeDynamodbEventSource": {"Properties": {
                "Stream": {"Fn::GetAtt": [REQUESTS, "StreamArn"]}}}}
            props["Events"] = events
        resources[function] = {"DependsOn": [log_group(function)], "Properties": props}
        resources[role] = {"Properties": {"Policies": [role_policy(HANDLERS[function])]}}
    return resources


# API Gateway answers a path no route matches (a link cut short) itself, with {"message": "Missing
# Authentication Token"}. Its templates can't choose a language (no VTL there), so a browser's page hands over
# at once to /portal/missing, which answers in the visitor's language; API clients keep the JSON.
MISSING_PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                '<meta http-equiv="refresh" content="0; url=${Base}/portal/missing"><title>privacy-desk</title>'
                '</head><body><main><p><a href="${Base}/portal/missing">This link is incomplete</a></p></main>'
                '</body></html>')


def gateway_resources() -> dict:
    return {"MissingRoutePage": {"Type": "AWS::ApiGateway::GatewayResponse", "Properties": {
        "RestApiId": {"Ref": "RestAPI"},
        "ResponseType": "MISSING_AUTHENTICATION_TOKEN",
        "ResponseParameters": {"gatewayresponse.header.Cache-Control": "'no-store'",
                               "gatewayresponse.header.Referrer-Policy": "'no-referrer'",
                               "gatewayresponse.header.X-Content-Type-Options": "'nosniff'"},
        "ResponseTemplates": {
            "application/json": '{"message":$context.error.messageString}',
            "text/html": {"Fn::Sub": [MISSING_PAGE, {"Base": environment()["PUBLIC_BASE_URL"]}]},
        },
    }}}


def merge_template() -> dict:
    return {
        "Globals": {"Api": {"OpenApiVersion": OPEN_API_VERSION}},
        "Parameters": {
            "SenderEmail": {"Type": "String", "AllowedPattern": "^[^@\\s]+@[^@\\s]+$",
                            "Description": "Address the emails come from (SES verifies it: click the link it sends)"},
            "AlarmEmail": {"Type": "String", "Default": "",
                           "Description": "Optional: an address subscribed to the alarms"},
            "PublicBaseUrl": {"Type": "String", "Default": "", "AllowedPattern": "^(https://[^/\\s]+(/[^\\s]*)?)?$",
                              "Description": "Optional: the API's public address (a custom domain pointing at "
                                             "this API), e.g. https://privacy.example.com; default: the API's "
                                             "own execute-api URL"},
            "LogRetentionDays": {"Type": "Number", "Default": LOG_RETENTION_DAYS, "AllowedValues": LOG_RETENTION_CHOICES,
                                 "Description": "Days the functions' logs are kept"},
        },
        "Conditions": {
            "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
            "HasPublicBaseUrl": {"Fn::Not": [{"Fn::Equals": [{"Ref": "PublicBaseUrl"}, ""]}]},
        },
        "Resources": {**table_resources(), **bucket_resources(), **queue_resources(), **other_resources(),
                      **log_group_resources(), **alarm_resources(), **gateway_resources(), **function_overrides()},
        "Outputs": {
            "DocumentsBucketName": {"Value": {"Ref": BUCKET}},
            "TokenSecretArn": {"Value": {"Ref": SECRET}},
            "AlarmTopicArn": {"Value": {"Ref": TOPIC}},
            "ExecutionDeadLetterQueueUrl": {"Value": {"Ref": DEAD_LETTERS}},
            "PublicBaseUrl": {"Value": environment()["PUBLIC_BASE_URL"]},
        },
    }


def render() -> str:
    return json.dumps(merge_template(), indent=2) + "\n"


def main(path: str = str(OUTPUT)) -> None:
    pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(path).write_text(render())
    print(f"{path}: tables, bucket, queues, secret, sender, log groups, alarms; functions wired by reference")


if __name__ == "__main__":
    main(*sys.argv[1:])
