"""The deployable template: `chalice package --stage dev` patched by devtools/patch_sam.py, as `make
package-check` builds it. A poison record must not hold the requests stream's shard: retries are capped, old
records given up on, failing batches split, and what is given up on lands in a queue operators can read."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

from devtools import patch_sam
from devtools.stage_env import stage_environment

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHALICE = pathlib.Path(sys.executable).parent / "chalice"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """Packaged once for the module (it takes seconds), with the CLI's own environment like package-check."""
    out = tmp_path_factory.mktemp("package")
    env = {k: v for k, v in os.environ.items() if k not in stage_environment("local")}
    env.update(AWS_DEFAULT_REGION="eu-west-3")
    env.pop("REQUESTS_STREAM_ARN", None)  # the dev stage names its own stream
    subprocess.run([str(CHALICE), "package", "--stage", "dev", str(out)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    packaged = json.loads((out / "sam.json").read_text())
    assert patch_sam.patch(packaged) == 1
    return packaged


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
                # The execution queue's grant (policy file, every function) names that queue, not this one.
                if "executions" in json.dumps(statement["Resource"]):
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
