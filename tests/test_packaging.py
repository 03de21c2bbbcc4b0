"""The deployable template, as `make package STAGE=dev|prod` builds it: Chalice's functions and API merged
with deploy/resources.json (devtools/template.py), patched by devtools/patch_sam.py. One stack holds the whole
stage — tables, bucket, queues, secret, sender, alarms — and the functions reach them by reference only.

A poison record must not hold the requests stream's shard: retries are capped, old records given up on,
failing batches split, and what is given up on lands in a queue operators can read."""
import json
import os
import pathlib
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from devtools import patch_sam, tables
from devtools import template as merge
from devtools.stage_env import stage_environment
from tests import moto_cloudformation
from tests.moto_cloudformation import REGION, physical_ids

ROOT = pathlib.Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.filterwarnings(moto_cloudformation.PLACEHOLDER_WARNINGS)
CHALICE = pathlib.Path(sys.executable).parent / "chalice"
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())


def package(stage: str, out: pathlib.Path) -> dict:
    """`make package STAGE=<stage>` with no AWS credentials or profile at all: packaging needs no account."""
    env = {k: v for k, v in os.environ.items() if k not in stage_environment("local") and not k.startswith("AWS_")}
    env.pop("REQUESTS_STREAM_ARN", None)  # the stage's config names a placeholder; the template replaces it
    env.update(AWS_DEFAULT_REGION="eu-west-3", AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    resources = out / "resources.json"
    resources.write_text(merge.render())
    subprocess.run([str(CHALICE), "package", "--stage", stage, "--merge-template", str(resources), str(out)],
                   cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    packaged = json.loads((out / "sam.json").read_text())
    assert patch_sam.patch(packaged) == 1
    patch_sam.wire(packaged)
    (out / "sam.json").write_text(json.dumps(packaged, indent=2))
    return packaged


@pytest.fixture(scope="module", params=["dev", "prod"])
def stage(request):
    return request.param


@pytest.fixture(scope="module")
def out(stage, tmp_path_factory):
    """`make package`'s out/ (sam.json and deployment.zip), once per stage for the module (it takes seconds)."""
    out = tmp_path_factory.mktemp(stage)
    package(stage, out)
    return out


@pytest.fixture(scope="module")
def template(out):
    return json.loads((out / "sam.json").read_text())


@pytest.fixture(scope="module")
def stream_event(template):
    events = template["Resources"]["OnRequestChange"]["Properties"]["Events"]
    (event,) = [e["Properties"] for e in events.values() if e["Type"] == "DynamoDB"]
    return event


@pytest.fixture(scope="module")
def queue(template):
    return template["Resources"][patch_sam.QUEUE]


QUEUE_ARN = {"Fn::GetAtt": [patch_sam.QUEUE, "Arn"]}


def test_a_failing_batch_is_retried_a_few_times_not_until_the_record_leaves_the_stream(stream_event):
    assert 0 <= stream_event["MaximumRetryAttempts"] <= 5


def test_a_record_older_than_an_hour_is_given_up_on(stream_event):
    assert 60 <= stream_event["MaximumRecordAgeInSeconds"] <= 3600


def test_a_failing_batch_is_split_to_isolate_the_bad_record(stream_event):
    assert stream_event["BisectBatchOnFunctionError"] is True


def test_the_handler_reports_failed_records_and_is_told_to(template, stream_event):
    assert stream_event["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    variables = template["Resources"]["OnRequestChange"]["Properties"]["Environment"]["Variables"]
    assert variables["STREAM_FAILURE_MODE"] == "report"


def test_a_batch_given_up_on_goes_to_the_template_s_failure_queue(template, stream_event, queue):
    assert stream_event["DestinationConfig"] == {"OnFailure": {"Destination": QUEUE_ARN}}
    assert queue["Type"] == "AWS::SQS::Queue"


def test_the_failure_queue_is_encrypted_and_keeps_messages_fourteen_days(queue):
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_only_the_stream_function_s_role_may_send_to_the_failure_queue_and_only_to_it(template):
    sends = {}
    for name, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                # Grants on the execution queue name that queue, not this one.
                if statement["Resource"] == [{"Fn::GetAtt": [merge.QUEUE, "Arn"]}]:
                    continue
                if any(a.lower().startswith("sqs:") or a == "*" for a in actions):
                    sends.setdefault(name, []).append(statement)
    assert list(sends) == ["OnRequestChangeRole"]
    assert sends["OnRequestChangeRole"] == [{"Sid": patch_sam.SEND_SID, "Effect": "Allow",
                                             "Action": ["sqs:SendMessage"], "Resource": QUEUE_ARN}]
    role = template["Resources"]["OnRequestChange"]["Properties"]["Role"]
    assert role == {"Fn::GetAtt": ["OnRequestChangeRole", "Arn"]}


def test_an_alarm_watches_the_failure_queue_s_depth(template):
    alarm = template["Resources"][patch_sam.ALARM]["Properties"]
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [patch_sam.QUEUE, "QueueName"]}}]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)


def test_the_stack_outputs_the_failure_queue_s_url(template):
    assert template["Outputs"][patch_sam.QUEUE_URL_OUTPUT] == {"Value": {"Ref": patch_sam.QUEUE}}


def test_patching_twice_grants_the_send_once(template):
    again = json.loads(json.dumps(template))
    patch_sam.patch(again)
    statements = again["Resources"]["OnRequestChangeRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert [s["Sid"] for s in statements["Statement"]].count(patch_sam.SEND_SID) == 1


def test_a_stream_function_whose_role_is_not_in_the_template_is_refused():
    template = {"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {
        "Role": "arn:aws:iam::123456789012:role/elsewhere",
        "Events": {"S": {"Type": "DynamoDB", "Properties": {"Stream": "arn"}}}}}}}
    with pytest.raises(ValueError, match="sqs:SendMessage"):
        patch_sam.patch(template)


# --- one template for the whole stage -------------------------------------------------------------------------

def resources_of(template, kind):
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def intrinsics_only(value) -> bool:
    """A Ref, GetAtt or Sub (of the template's own names and AWS pseudo parameters), never a written ARN."""
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Ref", "Fn::GetAtt", "Fn::Sub")


def test_the_committed_merge_template_is_the_one_the_models_give():
    """deploy/resources.json is generated (`make package` rewrites it): a stale copy in the repository would
    deploy tables the code no longer matches."""
    assert (ROOT / "deploy" / "resources.json").read_text() == merge.render()


def test_every_table_of_the_models_is_in_the_template_with_their_keys_and_indexes(template):
    """Checked against PynamoDB's own schema, not against devtools/tables.py's reading of it."""
    for variable, (model, suffix) in tables.TABLES.items():
        table = template["Resources"][tables.logical_id(variable)]
        props = table["Properties"]
        schema = model._get_schema()
        assert props["TableName"] == {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"}
        assert {(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]} == \
            {(k["AttributeName"], k["KeyType"]) for k in schema["key_schema"]}
        assert props["KeySchema"][0]["KeyType"] == "HASH"
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {i["index_name"] for i in schema.get("global_secondary_indexes", [])}
        for index in schema.get("global_secondary_indexes", []):
            mine = indexes[index["index_name"]]
            assert {(k["AttributeName"], k["KeyType"]) for k in mine["KeySchema"]} == \
                {(k["AttributeName"], k["KeyType"]) for k in index["key_schema"]}
            assert mine["Projection"] == {"ProjectionType": "ALL"}
        assert {(a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]} == \
            {(a["AttributeName"], a["AttributeType"]) for a in schema["attribute_definitions"]}
        assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert len(resources_of(template, "AWS::DynamoDB::Table")) == len(tables.TABLES)


def test_the_requests_table_streams_both_images_and_requests_and_markers_expire(template):
    requests = template["Resources"]["RequestsTable"]["Properties"]
    assert requests["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    ttl = {name: r["Properties"].get("TimeToLiveSpecification")
           for name, r in resources_of(template, "AWS::DynamoDB::Table").items()}
    assert {name for name, spec in ttl.items() if spec} == {"RequestsTable", "MarkersTable"}
    assert ttl["RequestsTable"] == ttl["MarkersTable"] == {"AttributeName": "expires_at", "Enabled": True}


def test_tables_bucket_and_secret_survive_a_stack_deletion_or_replacement_but_not_a_failed_creation(template):
    """A creation that rolls back must not leave the fixed-name tables behind, or every retry fails on them."""
    for name in [*resources_of(template, "AWS::DynamoDB::Table"), merge.BUCKET, merge.SECRET]:
        resource = template["Resources"][name]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("RetainExceptOnCreate", "Retain"), name
    for table in resources_of(template, "AWS::DynamoDB::Table").values():
        assert table["Properties"]["DeletionProtectionEnabled"] is True
        assert table["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_the_documents_bucket_is_encrypted_private_tls_only_and_lets_exports_expire(template):
    bucket = template["Resources"][merge.BUCKET]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert {"Prefix": "exports/", "ExpirationInDays": 31} in [
        {k: r[k] for k in ("Prefix", "ExpirationInDays") if k in r} for r in rules if r["Status"] == "Enabled"]
    assert [r["AbortIncompleteMultipartUpload"] for r in rules if "AbortIncompleteMultipartUpload" in r] == [
        {"DaysAfterInitiation": 3}]
    (policy,) = [p["Properties"] for p in resources_of(template, "AWS::S3::BucketPolicy").values()]
    assert policy["Bucket"] == {"Ref": merge.BUCKET}
    (deny,) = policy["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


def test_the_execution_queue_outlasts_a_slice_and_sets_a_poison_message_aside(template):
    queue = template["Resources"][merge.QUEUE]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    worker_timeout = CONFIG["lambda_functions"]["execution_worker"]["lambda_timeout"]
    assert queue["VisibilityTimeout"] >= 6 * worker_timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [merge.DEAD_LETTERS, "Arn"]}
    assert template["Resources"][merge.DEAD_LETTERS]["Properties"]["SqsManagedSseEnabled"] is True


def test_the_local_queue_has_the_template_s_visibility_timeout():
    from devtools import stack

    assert stack.EXECUTION_VISIBILITY_SECONDS == merge.EXECUTION_VISIBILITY_SECONDS


def test_the_sender_is_an_ses_identity_of_the_stack_from_a_parameter(template):
    (identity,) = resources_of(template, "AWS::SES::EmailIdentity").values()
    assert identity["Properties"]["EmailIdentity"] == {"Ref": "SenderEmail"}
    assert "Default" not in template["Parameters"]["SenderEmail"]  # no deploy sends from an example address


def test_the_token_secret_is_generated_by_secrets_manager_and_only_its_arn_reaches_the_functions(template):
    secret = template["Resources"][merge.SECRET]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "SecretString" not in secret["Properties"] and "GenerateSecretString" in secret["Properties"]
    for name, function in resources_of(template, "AWS::Serverless::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["TOKEN_SECRET_ARN"] == {"Ref": merge.SECRET}, name
        assert not {"TOKEN_SECRET", "LOG_HASH_KEY", "PSEUDONYM_KEY"} & set(variables), name
        role = function["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
        assert [(s["Action"], s["Resource"]) for s in reads] == [(["secretsmanager:GetSecretValue"],
                                                                  [{"Ref": merge.SECRET}])], name


def test_no_secret_value_is_written_in_the_template_or_the_deployed_stages_config(template):
    from chalicelib import config

    text = json.dumps(template)
    for secret in config.PLACEHOLDER_SECRETS:
        assert secret not in text
    for stage in ("dev", "prod"):
        assert not {"TOKEN_SECRET", "LOG_HASH_KEY", "PSEUDONYM_KEY"} & set(
            CONFIG["stages"][stage]["environment_variables"])


def test_no_arn_is_written_by_hand(template):
    """Every ARN is built from the template's resources and AWS's pseudo parameters (arn:${AWS::Partition}:...),
    so the template deploys to any account and region, and a renamed resource is followed everywhere."""
    text = json.dumps(template)
    assert "arn:aws:" not in text
    assert "123456789012" not in text and "000000000000" not in text


def test_the_stream_handler_reads_the_requests_table_s_own_stream(template, stream_event):
    assert stream_event["Stream"] == {"Fn::GetAtt": ["RequestsTable", "StreamArn"]}


def test_the_worker_reads_the_template_s_execution_queue(template):
    events = template["Resources"]["ExecutionWorker"]["Properties"]["Events"]
    (event,) = [e["Properties"] for e in events.values() if e["Type"] == "SQS"]
    assert event["Queue"] == {"Fn::GetAtt": [merge.QUEUE, "Arn"]}


def test_every_function_finds_tables_bucket_queue_and_sender_by_reference(template):
    functions = resources_of(template, "AWS::Serverless::Function")
    assert set(functions) == set(merge.FUNCTIONS)
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        for variable in tables.TABLES:
            assert variables[variable] == {"Ref": tables.logical_id(variable)}, name
        assert variables["DOCUMENTS_BUCKET"] == {"Ref": merge.BUCKET}
        assert variables["EXECUTION_QUEUE"] == {"Fn::GetAtt": [merge.QUEUE, "QueueName"]}
        assert variables["SENDER_EMAIL"] == {"Ref": "SenderEmail"}
        assert variables["REQUESTS_STREAM_ARN"] == {"Fn::GetAtt": ["RequestsTable", "StreamArn"]}


def test_links_in_emails_start_with_the_api_s_own_url_unless_a_custom_one_is_given(template):
    for function in resources_of(template, "AWS::Serverless::Function").values():
        url = function["Properties"]["Environment"]["Variables"]["PUBLIC_BASE_URL"]
        condition, custom, own = url["Fn::If"]
        assert (condition, custom) == ("HasPublicBaseUrl", {"Ref": "PublicBaseUrl"})
        assert own == {"Fn::Sub": "https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api"}


def test_the_api_names_its_handler_without_depending_on_it_so_there_is_no_cycle(template):
    """APIHandler's PUBLIC_BASE_URL refers to RestAPI; RestAPI referring back to APIHandler would be a
    dependency cycle CloudFormation refuses to deploy."""
    body = json.dumps(template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"])
    assert "APIHandler" not in body
    assert "function:${AWS::StackName}-api/invocations" in body
    assert template["Resources"]["APIHandler"]["Properties"]["FunctionName"] == merge.function_name("APIHandler")
    assert merge.function_name("APIHandler") == {"Fn::Sub": "${AWS::StackName}-api"}


def test_every_role_s_grants_follow_the_template_s_resources(template):
    roles = resources_of(template, "AWS::IAM::Role")
    assert set(roles) == set(merge.FUNCTIONS.values())
    granted = set()
    for name, role in roles.items():
        for policy in role["Properties"]["Policies"]:
            for statement in policy["PolicyDocument"]["Statement"]:
                targets = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                assert all(intrinsics_only(t) for t in targets), (name, statement)
                assert statement["Effect"] == "Allow"
                assert not [a for a in statement["Action"] if a == "*" or a.endswith(":*")]
                granted.update(json.dumps(t) for t in targets)
    text = " ".join(granted)
    for table in resources_of(template, "AWS::DynamoDB::Table"):
        assert f'["{table}", "Arn"]' in text
    for resource in ("RequestsTable.Arn}/index/by_due", "DossiersTable.Arn}/index/by_client",
                     '["RequestsTable", "StreamArn"]', f"{merge.BUCKET}.Arn}}/*", f'["{merge.QUEUE}", "Arn"]',
                     f'{{"Ref": "{merge.SECRET}"}}'):
        assert resource in text
    assert "/index/*" not in text  # each index a function queries is named


def test_errors_and_throttles_of_every_function_and_both_failure_queues_alarm_the_topic(template):
    alarms = resources_of(template, "AWS::CloudWatch::Alarm")
    watched = set()
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": merge.TOPIC}]
        (dimension,) = props["Dimensions"]
        watched.add((props["MetricName"], json.dumps(dimension["Value"])))
    for function in merge.FUNCTIONS:
        for metric in ("Errors", "Throttles"):
            assert (metric, json.dumps({"Ref": function})) in watched
    for queue in (patch_sam.QUEUE, merge.DEAD_LETTERS):
        assert ("ApproximateNumberOfMessagesVisible", json.dumps({"Fn::GetAtt": [queue, "QueueName"]})) in watched
    (subscription,) = resources_of(template, "AWS::SNS::Subscription").values()
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert template["Parameters"]["AlarmEmail"]["Default"] == ""


def test_a_merge_that_leaves_two_functions_in_one_value_is_refused():
    broken = {"Resources": {"X": {"Properties": {"Queue": {"Fn::Sub": "a", "Fn::GetAtt": ["Q", "Arn"]}}}}}
    assert list(patch_sam.merged_intrinsics(broken)) == ["$.Resources.X.Properties.Queue"]


def test_every_check_checkov_skips_is_listed_with_its_reason():
    from devtools import checkov_skips

    skips = checkov_skips.skips((ROOT / "deploy" / "checkov-skips.md").read_text())
    assert skips and all(len(reason) > 20 for reason in skips.values())
    with pytest.raises(ValueError, match="CKV_AWS_1 is skipped without a reason"):
        checkov_skips.skips("| CKV_AWS_1 | |\n")


def test_each_packaged_role_holds_exactly_the_policy_its_function_runs_under_locally(template):
    """The statements devtools/iam.py gives each function in the tests and `make run` (template.role_policy,
    resolved to local names) are the packaged role's, plus the failure queue's send for the stream handler."""
    for function, role in merge.FUNCTIONS.items():
        policies = template["Resources"][role]["Properties"]["Policies"]
        expected = merge.role_policy(merge.HANDLERS[function])["PolicyDocument"]["Statement"]
        statements = [s for s in policies[0]["PolicyDocument"]["Statement"] if s.get("Sid") != patch_sam.SEND_SID]
        assert (len(policies), statements) == (1, expected), role


# --- deployable for real (issue 15) ----------------------------------------------------------------------------

def make_dry_run(*args: str) -> list:
    """The commands `make -n` prints, one per line (a recipe's continued lines joined)."""
    out = subprocess.run(["make", "--no-print-directory", "-n", *args], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return out.replace("\\\n", " ").splitlines()


@pytest.fixture(scope="module")
def translated(template):
    """The template after SAM's transform, as CloudFormation expands it before creating anything."""
    return moto_cloudformation.translate(template)


def test_the_template_is_larger_than_cloudformation_takes_inline(template):
    """Why `make deploy` needs --s3-bucket: `aws cloudformation deploy` refuses an inline template over 51,200
    bytes, and this one is over it even written as tightly as JSON allows."""
    assert len(json.dumps(template, separators=(",", ":"))) > 51_200


def test_the_deploy_step_hands_the_template_over_through_the_artifacts_bucket():
    lines = make_dry_run("deploy", "STAGE=dev", "SENDER=a@b.example", "ARTIFACTS=bucket")
    (deploy,) = [line.split() for line in lines if "cloudformation deploy" in line]
    assert deploy[deploy.index("--s3-bucket") + 1] == "bucket"


def test_the_api_handler_stops_before_api_gateway_gives_up_at_29_s(template):
    assert template["Resources"]["APIHandler"]["Properties"]["Timeout"] <= 29


def test_the_api_has_one_stage_the_api_stage(translated):
    stages = [s["Properties"]["StageName"] for s in resources_of(translated, "AWS::ApiGateway::Stage").values()]
    assert stages == ["api"]
    for deployment in resources_of(translated, "AWS::ApiGateway::Deployment").values():
        assert "StageName" not in deployment["Properties"]  # SAM's second stage, "Stage", would be made here


def test_every_function_logs_to_a_group_of_the_stack_named_after_it(template):
    groups = resources_of(template, "AWS::Logs::LogGroup")
    assert set(groups) == {f"{function}LogGroup" for function in merge.FUNCTIONS}
    for function in merge.FUNCTIONS:
        name = template["Resources"][function]["Properties"]["FunctionName"]["Fn::Sub"]
        assert groups[f"{function}LogGroup"]["Properties"]["LogGroupName"] == {"Fn::Sub": f"/aws/lambda/{name}"}


def test_logs_are_kept_ninety_days_unless_the_stage_says_otherwise(template):
    for group in resources_of(template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    parameter = template["Parameters"]["LogRetentionDays"]
    assert parameter["Default"] == 90 and 90 in parameter["AllowedValues"]


def test_a_function_is_created_after_its_log_group_so_lambda_can_t_create_the_group_first(template, translated):
    for function in merge.FUNCTIONS:
        assert f"{function}LogGroup" in template["Resources"][function]["DependsOn"]
        assert f"{function}LogGroup" in translated["Resources"][function]["DependsOn"]


def test_log_groups_go_with_the_stack(template):
    for name, group in resources_of(template, "AWS::Logs::LogGroup").items():
        assert (group["DeletionPolicy"], group["UpdateReplacePolicy"]) == ("Delete", "Delete"), name


def test_every_queue_says_what_becomes_of_it_when_the_stack_goes(template):
    policies = {name: (queue.get("DeletionPolicy"), queue.get("UpdateReplacePolicy"))
                for name, queue in resources_of(template, "AWS::SQS::Queue").items()}
    assert policies == {
        merge.QUEUE: ("Delete", "Delete"),  # pointers to requests the watchdog queues again
        merge.DEAD_LETTERS: ("Delete", "Delete"),
        patch_sam.QUEUE: ("RetainExceptOnCreate", "Retain"),  # the only trace of notices never sent
    }


@pytest.fixture(scope="module")
def stack(stage, out, template):
    """The stage's stack created by CloudFormation (moto's, in process), API Gateway left out."""
    name = f"privacy-desk-{stage}"
    with mock_aws():
        created = moto_cloudformation.create_stack(template, out / "deployment.zip", name,
                                                   {"SenderEmail": "privacy@example.com"})
        assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
        yield name


def client(service: str):
    return boto3.client(service, region_name=REGION)


def queue_arn(url: str) -> str:
    return client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def function_name(stage: str, function: str) -> str:
    return f"privacy-desk-{stage}-{merge.FUNCTION_NAMES[function]}"


def test_the_stack_is_created(stack):
    (described,) = client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
    assert described["StackStatus"] == "CREATE_COMPLETE"


def test_the_created_stack_holds_every_table_under_the_stage_s_names(stack, stage):
    names = set(client("dynamodb").list_tables()["TableNames"])
    assert names == {f"privacy-desk-{stage}-{suffix}" for _, suffix in tables.TABLES.values()}


def test_the_created_stack_holds_the_execution_dead_letter_and_stream_failure_queues(stack):
    queues = physical_ids(stack, "AWS::SQS::Queue")
    assert set(queues) == {merge.QUEUE, merge.DEAD_LETTERS, patch_sam.QUEUE}
    assert set(client("sqs").list_queues()["QueueUrls"]) == set(queues.values())


def test_the_created_stack_runs_every_function_under_its_fixed_name_with_its_own_role(stack, stage):
    roles = physical_ids(stack, "AWS::IAM::Role")
    assert set(roles) == set(merge.FUNCTIONS.values())
    for function, role in merge.FUNCTIONS.items():
        configuration = client("lambda").get_function_configuration(FunctionName=function_name(stage, function))
        assert configuration["Role"] == client("iam").get_role(RoleName=roles[role])["Role"]["Arn"]


def test_the_created_functions_find_the_created_tables_and_queue(stack, stage):
    configuration = client("lambda").get_function_configuration(FunctionName=function_name(stage, "APIHandler"))
    variables = configuration["Environment"]["Variables"]
    for variable, (_, suffix) in tables.TABLES.items():
        assert variables[variable] == f"privacy-desk-{stage}-{suffix}"
    execution_queue = physical_ids(stack, "AWS::SQS::Queue")[merge.QUEUE]
    assert variables["EXECUTION_QUEUE"] == execution_queue.rsplit("/", 1)[1]


def test_the_created_stack_has_each_function_s_log_group_with_its_retention(stack, stage):
    groups = client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert {g["logGroupName"]: g.get("retentionInDays") for g in groups} == {
        f"/aws/lambda/{function_name(stage, function)}": merge.LOG_RETENTION_DAYS for function in merge.FUNCTIONS}


def test_the_created_stack_feeds_the_stream_and_the_queue_to_their_functions(stack, stage):
    mappings = {m["FunctionArn"].rsplit(":", 1)[1]: m
                for m in client("lambda").list_event_source_mappings()["EventSourceMappings"]}
    stream, queue = function_name(stage, "OnRequestChange"), function_name(stage, "ExecutionWorker")
    assert set(mappings) == {stream, queue}
    requests = client("dynamodb").describe_table(TableName=f"privacy-desk-{stage}-requests")["Table"]
    assert mappings[stream]["EventSourceArn"] == requests["LatestStreamArn"]
    queues = physical_ids(stack, "AWS::SQS::Queue")
    assert mappings[stream]["DestinationConfig"]["OnFailure"]["Destination"] == queue_arn(queues[patch_sam.QUEUE])
    assert mappings[queue]["EventSourceArn"] == queue_arn(queues[merge.QUEUE])


def test_a_path_no_route_matches_gives_browsers_a_page_and_api_clients_json(template):
    """API Gateway's own Missing Authentication Token answer (issue 17): a text/html template handing over to
    /portal/missing (which answers in the visitor's language), the JSON one for API clients."""
    responses = [r["Properties"] for r in template["Resources"].values()
                 if r["Type"] == "AWS::ApiGateway::GatewayResponse"]
    missing = [r for r in responses if r["ResponseType"] == "MISSING_AUTHENTICATION_TOKEN"]
    assert len(missing) == 1 and missing[0]["RestApiId"] == {"Ref": "RestAPI"}
    page, values = missing[0]["ResponseTemplates"]["text/html"]["Fn::Sub"]
    assert 'http-equiv="refresh" content="0; url=${Base}/portal/missing"' in page
    assert values["Base"] == template["Outputs"]["PublicBaseUrl"]["Value"]
    assert "messageString" in missing[0]["ResponseTemplates"]["application/json"]
