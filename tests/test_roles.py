"""Issue 15: each function runs with its own role's permissions, as on AWS, and each role is exact.

Every test of the suite runs with moto's IAM enforcement on and each function signing as a user that holds its
role's statements from the packaged template (tests/conftest.py, devtools/iam.py). These tests show that the
enforcement really refuses, including where moto alone would let a call through, and that the roles are
shaped as least privilege asks."""
import datetime as dt
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import aws, clock, config
from devtools import iam, roles, template


def refused(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def without(function: str, action: str, monkeypatch):
    """The role of `function` as if deploy/roles.json didn't grant `action`: the template and the moto user."""
    real = roles.load()
    changed = json.loads(json.dumps(real))
    changed[function].pop(action)
    monkeypatch.setattr(roles, "load", lambda path=roles.ROLES_FILE: changed)


@pytest.fixture(autouse=True)
def unrecorded(request, monkeypatch):
    """These tests make calls no function makes, on purpose: they aren't what the roles are written from."""
    if request.node.get_closest_marker("recorded") is None:
        monkeypatch.delenv("IAM_RECORD_DIR", raising=False)


# --- a missing grant fails as it would on AWS ------------------------------------------------------------------
def test_the_stream_handler_without_batch_get_item_sends_no_email(api, team, monkeypatch, aws):
    """The finding: the packaged roles lacked dynamodb:BatchGetItem, so on AWS no email was ever sent."""
    api.submit(team, "client@example.com")
    without("on_request_change", "dynamodb:BatchGetItem", monkeypatch)
    iam.use(iam._state["keys"], iam.local_policies(aws))
    records = api.stream_records()
    with pytest.raises(Exception, match="1 of 1 records failed"):
        api.deliver(records)  # the batch fails, and Lambda would retry it until it went to the failure queue
    assert not api.mail_to("client@example.com")


def test_moto_itself_refuses_an_action_the_function_s_user_lacks(aws):
    """Below our own check, moto's IAM evaluates the function's user: the reminders may not write documents."""
    key, secret = iam._state["keys"]["daily_reminders"]
    s3 = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret).client("s3")
    assert refused(lambda: s3.put_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key="x", Body=b"x")) == "AccessDenied"


def test_an_unknown_key_is_refused_by_moto(aws):
    s3 = boto3.session.Session(aws_access_key_id="AKIAUNKNOWN000000000", aws_secret_access_key="x").client("s3")
    assert refused(lambda: s3.list_buckets()) in ("InvalidAccessKeyId", "InvalidClientTokenId")


# --- what moto doesn't evaluate, checked in code ------------------------------------------------------------------
def test_a_transaction_needs_the_action_of_each_of_its_items(aws):
    """AWS has no TransactWriteItems action: it checks PutItem, UpdateItem, ConditionCheckItem inside."""
    items = [{"ConditionCheck": {"TableName": config.get("SETTINGS_TABLE"), "Key": {"team_id": {"S": "t"}},
                                 "ConditionExpression": "attribute_not_exists(team_id)"}}]
    with iam.running("daily_reminders"):
        code = refused(lambda: aws_client("dynamodb").transact_write_items(TransactItems=items))
    assert code == "AccessDeniedException"


def test_a_table_the_role_does_not_name_is_refused_though_the_action_is_granted(aws):
    """The reminders may read requests, not members' neighbours: the resource is checked, not just the action."""
    assert "table:DOSSIERS_TABLE" not in roles.load()["daily_reminders"].get("dynamodb:GetItem", [])
    with iam.running("daily_reminders"):
        code = refused(lambda: aws_client("dynamodb").get_item(
            TableName=config.get("DOSSIERS_TABLE"), Key={"team_id": {"S": "t"}, "dossier_id": {"S": "d"}}))
    assert code == "AccessDeniedException"


def test_reading_a_missing_object_without_list_bucket_is_access_denied_as_on_s3(aws, monkeypatch):
    """S3 answers NoSuchKey only to who may list the bucket; moto answers it to anyone."""
    assert "s3:ListBucket" in roles.load()["execution_worker"]
    monkeypatch.setitem(iam._state["policies"], "execution_worker", _drop_action(
        iam._state["policies"]["execution_worker"], "s3:ListBucket"))
    with iam.running("execution_worker"):
        code = refused(lambda: aws_client("s3").get_object(Bucket=config.get("DOCUMENTS_BUCKET"), Key="exports/none"))
    assert code == "AccessDenied"


def test_reading_a_missing_object_with_list_bucket_is_no_such_key(aws):
    with iam.running("execution_worker"):
        code = refused(lambda: aws_client("s3").get_object(Bucket=config.get("DOCUMENTS_BUCKET"),
                                                           Key="exports/none"))
    assert code == "NoSuchKey"


def test_mail_from_another_address_than_the_stack_s_sender_is_refused(aws):
    aws_client("ses").verify_email_identity(EmailAddress="other@privacy-desk.localhost")
    with iam.running("on_request_change"):
        code = refused(lambda: aws_client("ses").send_raw_email(
            Source="other@privacy-desk.localhost", Destinations=["a@example.com"], RawMessage={"Data": b"x"}))
    assert code == "AccessDeniedException"


def test_a_presigned_link_needs_its_signer_to_hold_the_action(aws):
    with iam.running("daily_reminders"):
        code = refused(lambda: aws_client("s3").generate_presigned_url(
            "get_object", Params={"Bucket": config.get("DOCUMENTS_BUCKET"), "Key": "exports/x.zip"}))
    assert code == "AccessDenied"


def aws_client(service: str):
    return aws.client(service)


def _drop_action(policy: dict, action: str) -> dict:
    statements = [dict(s, Action=[a for a in s["Action"] if a != action]) for s in policy["Statement"]]
    return dict(policy, Statement=[s for s in statements if s["Action"]])


# --- the roles' shape ---------------------------------------------------------------------------------------------
def granted(function: str) -> dict:
    return roles.grants(function)


def test_only_the_stream_handler_reads_the_stream():
    for function in roles.FUNCTIONS:
        reads = {a for a, resources in granted(function).items() if any(r.startswith("stream:") for r in resources)}
        assert bool(reads) == (function == "on_request_change"), function


def test_only_the_worker_receives_and_deletes_queue_messages():
    for function in roles.FUNCTIONS:
        polls = {"sqs:ReceiveMessage", "sqs:DeleteMessage"} & set(granted(function))
        assert bool(polls) == (function == "execution_worker"), function


def test_the_reminders_touch_no_document():
    assert not [a for a in granted("daily_reminders") if a.startswith("s3:")]


def test_no_role_grants_change_message_visibility_which_nothing_calls():
    assert all("sqs:ChangeMessageVisibility" not in granted(f) for f in roles.FUNCTIONS)


def test_each_function_has_a_role_of_its_own_in_the_template():
    merged = template.merge_template()["Resources"]
    policies = [json.dumps(merged[role]["Properties"]["Policies"]) for role in template.FUNCTIONS.values()]
    assert len(set(policies)) == len(policies)


def test_mail_is_granted_on_the_sender_s_address_only():
    for function in roles.FUNCTIONS:
        for statement in template.role_policy(function)["PolicyDocument"]["Statement"]:
            if any(a.startswith("ses:") for a in statement["Action"]):
                assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": {"Ref": "SenderEmail"}}}


def test_a_function_s_logs_go_to_its_own_log_group_only():
    statement = next(s for s in template.role_policy("execution_worker")["PolicyDocument"]["Statement"]
                     if "logs:PutLogEvents" in s["Action"])
    assert statement["Resource"] == [{"Fn::GetAtt": ["ExecutionWorkerLogGroup", "Arn"]}]
    group = template.merge_template()["Resources"]["ExecutionWorkerLogGroup"]["Properties"]["LogGroupName"]
    assert group == {"Fn::Sub": "/aws/lambda/${AWS::StackName}-execution-worker"}


# --- the exactness check (make test runs it over the suite's recording) -------------------------------------------
def test_a_call_the_role_does_not_grant_is_reported():
    seen = {"daily_reminders": {"dynamodb:Query": {"index:REQUESTS_TABLE/by_due"}, "s3:GetObject":
                                {"objects:DOCUMENTS_BUCKET"}}}
    rules = {f: {} for f in roles.FUNCTIONS} | {"daily_reminders": {"dynamodb:Query": ["index:REQUESTS_TABLE/by_due"]}}
    assert roles.differences(seen, rules) == [
        "daily_reminders calls s3:GetObject on objects:DOCUMENTS_BUCKET, which its role doesn't grant"]


def test_a_grant_no_call_used_is_reported():
    seen = {"daily_reminders": {"dynamodb:Query": {"index:REQUESTS_TABLE/by_due"}}}
    rules = {f: {} for f in roles.FUNCTIONS} | {"daily_reminders": {
        "dynamodb:Query": ["index:REQUESTS_TABLE/by_due"], "sqs:ChangeMessageVisibility": ["queue:EXECUTION_QUEUE"]}}
    assert roles.differences(seen, rules) == [
        "daily_reminders's role grants sqs:ChangeMessageVisibility on queue:EXECUTION_QUEUE, which it never called"]


def test_the_committed_roles_match_a_recording_written_from_them(tmp_path):
    """`make roles` writes exactly what was seen, so a check of the same recording passes."""
    seen = {f: {a: set(r) for a, r in roles.load()[f].items()} for f in roles.FUNCTIONS}
    path = tmp_path / "roles.json"
    roles.write(seen, path)
    assert roles.differences(seen, roles.load(path)) == []


# --- the deployed key: every function reads it from Secrets Manager under its own role ---------------------------
@pytest.fixture
def key_in_secrets_manager(aws, monkeypatch):
    """As deployed: TOKEN_SECRET_ARN names the key's secret (created by the operator, as the template does)."""
    from chalicelib import signing_keys

    arn = aws_client("secretsmanager").create_secret(
        Name=iam.SECRET_NAME, SecretString=config.get("TOKEN_SECRET"))["ARN"]
    monkeypatch.setenv("TOKEN_SECRET_ARN", arn)
    signing_keys.reset()
    yield arn
    signing_keys.reset()


@pytest.mark.recorded
def test_an_erasure_an_export_and_the_chores_run_with_the_key_in_secrets_manager(api, team, key_in_secrets_manager):
    from chalicelib import housekeeping, reminders

    dossier = api.new_dossier(team, "alice@client.example")
    api.add_document(team, dossier["dossier_id"])
    access = api.verified_request(team, "alice@client.example", "access")
    assert api.executed(team, access)["status"] == "completed"
    api.pump()
    download = api.get(api.last_link_to("alice@client.example", "/portal/privacy/exports/") + "?download=1")
    assert download.status_code == 302  # to a link presigned by the API handler
    erasure = api.verified_request(team, "alice@client.example", "erasure")
    assert api.executed(team, erasure)["status"] == "completed"
    api.pump()
    pending = api.verified_request(team, "bob@client.example", "access")
    in_25_days = clock.now() + dt.timedelta(days=25)
    assert reminders.run(in_25_days)["officer_reminder"] == 1  # its email carries a signed action link
    assert housekeeping.run() is not None
    assert api.request_view(team, pending)["status"] == "pending"
