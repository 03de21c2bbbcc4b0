"""Write deploy/resources.json: what `chalice package --merge-template` adds to (or overrides in) Chalice's
SAM template so one CloudFormation stack holds the whole stage.

Chalice generates the functions, their roles and events, and the API; this adds the tables (from
devtools/tables.py, i.e. from the PynamoDB models), the documents bucket, the execution queue and its
dead-letter queue, the SES sender, the token secret, the alarms and their topic, and wires every function to
them by reference: environment variables by Ref/GetAtt, each role's policy by Ref/GetAtt/Sub, the stream and
queue events by GetAtt. No name or ARN is written twice, and no secret at all.

Chalice merges dictionaries key by key and replaces everything else (strings, lists): a role's `Policies`
list is replaced whole, an environment variable's value too. An intrinsic that replaces another intrinsic
would be merged into a dict with two functions, so those (the SQS event's `Queue`) are set by
devtools/patch_sam.py after the merge instead.

usage: python -m devtools.template [deploy/resources.json]
"""
import json
import pathlib
import sys

from devtools import tables

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
# The API handler gets a fixed name, so the API's integration can name it without depending on the function
# resource: the function's PUBLIC_BASE_URL depends on the API, and the two references would make a cycle.
API_FUNCTION_NAME = {"Fn::Sub": "${AWS::StackName}-api"}

REQUESTS = tables.logical_id("REQUESTS_TABLE")
BUCKET = "DocumentsBucket"
QUEUE = "ExecutionQueue"
DEAD_LETTERS = "ExecutionDeadLetterQueue"
SECRET = "TokenSecret"
TOPIC = "AlarmTopic"
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}

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
        resources[tables.logical_id(variable)] = {"Type": "AWS::DynamoDB::Table", **RETAIN, "Properties": {
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
        BUCKET: {"Type": "AWS::S3::Bucket", **RETAIN, "Properties": {
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
        QUEUE: {"Type": "AWS::SQS::Queue", "Properties": {
            "SqsManagedSseEnabled": True,
            "VisibilityTimeout": EXECUTION_VISIBILITY_SECONDS,
            "MessageRetentionPeriod": FOURTEEN_DAYS,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": [DEAD_LETTERS, "Arn"]},
                              "maxReceiveCount": MAX_RECEIVES},
        }},
        DEAD_LETTERS: {"Type": "AWS::SQS::Queue", "Properties": {
            "SqsManagedSseEnabled": True, "MessageRetentionPeriod": FOURTEEN_DAYS}},
    }


def other_resources() -> dict:
    return {
        # Signs bearer tokens and every emailed link. Generated by Secrets Manager: its value is in no file.
        # Retained: losing it would void every token and link (and the pseudonyms keyed by it).
        SECRET: {"Type": "AWS::SecretsManager::Secret", **RETAIN, "Properties": {
            "Description": {"Fn::Sub": "${AWS::StackName}: key of tokens and emailed links"},
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        }},
        "SenderIdentity": {"Type": "AWS::SES::EmailIdentity", "Properties": {"EmailIdentity": {"Ref": "SenderEmail"}}},
        TOPIC: {"Type": "AWS::SNS::Topic", "Properties": {
            "DisplayName": {"Fn::Sub": "${AWS::StackName} alarms"}}},
        "AlarmSubscription": {"Type": "AWS::SNS::Subscription", "Condition": "HasAlarmEmail", "Properties": {
            "TopicArn": {"Ref": TOPIC}, "Protocol": "email", "Endpoint": {"Ref": "AlarmEmail"}}},
    }


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


def policy() -> dict:
    """What every function may do, on this stack's resources only (the actions of .chalice/policy-dev.json)."""
    table_arns = []
    for variable, (model, _) in tables.TABLES.items():
        table = tables.logical_id(variable)
        table_arns.append({"Fn::GetAtt": [table, "Arn"]})
        if model._get_schema().get("global_secondary_indexes"):
            table_arns.append({"Fn::Sub": f"${{{table}.Arn}}/index/*"})
    statements = [
        {"Sid": "Logs", "Effect": "Allow",
         "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:"
                                 "log-group:/aws/lambda/${AWS::StackName}-*"}},
        {"Sid": "Tables", "Effect": "Allow",
         "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                    "dynamodb:Query", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem",
                    "dynamodb:DescribeTable"],
         "Resource": table_arns},
        {"Sid": "RequestsStream", "Effect": "Allow",
         "Action": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                    "dynamodb:ListStreams"],
         "Resource": {"Fn::GetAtt": [REQUESTS, "StreamArn"]}},
        {"Sid": "Documents", "Effect": "Allow",
         "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
         "Resource": {"Fn::Sub": f"${{{BUCKET}.Arn}}/*"}},
        # Identities of this account and region: in the SES sandbox the recipients' identities are checked too.
        {"Sid": "Mail", "Effect": "Allow", "Action": ["ses:SendRawEmail"],
         "Resource": {"Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*"}},
        {"Sid": "Executions", "Effect": "Allow",
         "Action": ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:ReceiveMessage", "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"],
         "Resource": {"Fn::GetAtt": [QUEUE, "Arn"]}},
        {"Sid": "TokenSecret", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
         "Resource": {"Ref": SECRET}},
    ]
    return {"PolicyName": "privacy-desk", "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}


def function_overrides() -> dict:
    resources = {}
    for function, role in FUNCTIONS.items():
        props = {"Environment": {"Variables": environment()}}
        if function == "APIHandler":
            props["FunctionName"] = API_FUNCTION_NAME
        if function == STREAM_FUNCTION:
            events = {"OnRequestChangeDynamodbEventSource": {"Properties": {
                "Stream": {"Fn::GetAtt": [REQUESTS, "StreamArn"]}}}}
            props["Events"] = events
        resources[function] = {"Properties": props}
        resources[role] = {"Properties": {"Policies": [policy()]}}
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
        "Parameters": {
            "SenderEmail": {"Type": "String", "AllowedPattern": "^[^@\\s]+@[^@\\s]+$",
                            "Description": "Address the emails come from (SES verifies it: click the link it sends)"},
            "AlarmEmail": {"Type": "String", "Default": "",
                           "Description": "Optional: an address subscribed to the alarms"},
            "PublicBaseUrl": {"Type": "String", "Default": "", "AllowedPattern": "^(https://[^/\\s]+(/[^\\s]*)?)?$",
                              "Description": "Optional: the API's public address (a custom domain pointing at "
                                             "this API), e.g. https://privacy.example.com; default: the API's "
                                             "own execute-api URL"},
        },
        "Conditions": {
            "HasAlarmEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]},
            "HasPublicBaseUrl": {"Fn::Not": [{"Fn::Equals": [{"Ref": "PublicBaseUrl"}, ""]}]},
        },
        "Resources": {**table_resources(), **bucket_resources(), **queue_resources(), **other_resources(),
                      **alarm_resources(), **gateway_resources(), **function_overrides()},
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
    print(f"{path}: tables, bucket, queues, secret, sender, alarms; functions wired by reference")


if __name__ == "__main__":
    main(*sys.argv[1:])
