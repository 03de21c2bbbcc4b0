"""Each function under its own role, locally and in the tests, as on AWS (issue 15).

On AWS a function signs its calls with its role's credentials, and a call the role doesn't grant answers
AccessDenied. Here:
- `install()` makes every botocore client sign with the credentials of the function running now (`running`
  sets it; the processes of `make run` set a default), or the operator's (the tests' own set-up, provisioning);
- `enforce()` creates in moto's IAM one user per function, holding its role's statements from the packaged
  template (devtools/template.py, resolved to the local names), and turns moto's IAM enforcement on;
- moto evaluates less than AWS: it matches DynamoDB, SES and Secrets Manager calls against resource "*",
  takes TransactWriteItems for an action (AWS checks the item actions inside), and answers NoSuchKey to a read
  of a missing object that AWS answers AccessDenied without s3:ListBucket. So every call of a function is also
  checked here against its statements with its real ARN (`required`), and refused as AWS would refuse it;
- with IAM_RECORD_DIR set, each (function, action, resource) first seen is appended to a file there, which
  `python -m devtools.roles check|write` compares with deploy/roles.json.
"""
import contextlib
import contextvars
import fnmatch
import functools
import importlib
import json
import os
import pathlib
import re
import threading

import botocore.client
import botocore.credentials
import botocore.session
import botocore.signers
from botocore.exceptions import ClientError

from devtools import roles

ACCOUNT = "123456789012"  # moto's default account
OPERATOR = "operator"
KEYS_VARIABLE = "LOCAL_IAM_KEYS"  # {function: [key id, secret]}, handed to `make run`'s processes
DEFAULT_VARIABLE = "LOCAL_IAM_FUNCTION"  # the function a process of `make run` is, when no other is running
SECRET_NAME = "privacy-desk-local-token"  # what a test keeping the key in Secrets Manager names its secret

_running: contextvars.ContextVar = contextvars.ContextVar("function", default=None)
_state: dict = {"keys": {}, "policies": {}, "seen": set(), "installed": False}
_lock = threading.Lock()


def current() -> str:
    return _running.get() or os.environ.get(DEFAULT_VARIABLE) or OPERATOR


@contextlib.contextmanager
def running(function: str):
    token = _running.set(function)
    try:
        yield
    finally:
        _running.reset(token)


# --- which action, on which resource, AWS checks for a call ----------------------------------------------
TRANSACT_ITEM = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                 "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}
S3_OBJECT = {"PutObject": "s3:PutObject", "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
             "CompleteMultipartUpload": "s3:PutObject", "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject",
             "DeleteObject": "s3:DeleteObject", "AbortMultipartUpload": "s3:AbortMultipartUpload",
             "ListParts": "s3:ListMultipartUploadParts"}
S3_BUCKET = {"ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket", "HeadBucket": "s3:ListBucket",
             "ListMultipartUploads": "s3:ListBucketMultipartUploads"}


def required(service: str, operation: str, params: dict, region: str, stream: str | None = None) -> list:
    """[(action, resource ARN)] that IAM evaluates for this call."""
    if service == "dynamodb":
        return _dynamodb(operation, params, region)
    if service == "dynamodbstreams":
        return [(f"dynamodb:{operation}", params.get("StreamArn") or stream or "*")]
    if service == "s3":
        return _s3(operation, params)
    if service == "sqs":
        name = (params.get("QueueUrl") or "").rstrip("/").rsplit("/", 1)[-1] or params.get("QueueName", "*")
        return [(f"sqs:{operation}", f"arn:aws:sqs:{region}:{ACCOUNT}:{name}")]
    if service == "ses":
        return [(f"ses:{operation}", f"arn:aws:ses:{region}:{ACCOUNT}:identity/{params.get('Source', '*')}")]
    if service == "secretsmanager":
        return [(f"secretsmanager:{operation}", params.get("SecretId", "*"))]
    return [(f"{service}:{operation}", "*")]


def _table(region: str, name: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


def _dynamodb(operation: str, params: dict, region: str) -> list:
    if operation in ("TransactWriteItems", "TransactGetItems"):  # not IAM actions: each item's action is checked
        return [(f"dynamodb:{TRANSACT_ITEM[kind]}", _table(region, body["TableName"]))
                for item in params["TransactItems"] for kind, body in item.items()]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", _table(region, name)) for name in params["RequestItems"]]
    return [(f"dynamodb:{operation}", _table(region, params.get("TableName", "*"), params.get("IndexName")))]


def _s3(operation: str, params: dict) -> list:
    bucket = f"arn:aws:s3:::{params.get('Bucket', '*')}"
    if operation in S3_OBJECT:
        return [(S3_OBJECT[operation], f"{bucket}/{params.get('Key', '*')}")]
    if operation in S3_BUCKET:
        return [(S3_BUCKET[operation], bucket)]
    if operation == "DeleteObjects":
        return [("s3:DeleteObject", f"{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
    if operation in ("CopyObject", "UploadPartCopy"):
        source = params["CopySource"]
        source = f"{source['Bucket']}/{source['Key']}" if isinstance(source, dict) else source.lstrip("/")
        return [("s3:PutObject", f"{bucket}/{params['Key']}"), ("s3:GetObject", f"arn:aws:s3:::{source}")]
    return [(f"s3:{operation}", bucket)]


# --- the roles, resolved to this stack's names --------------------------------------------------------------
def local_names(stream_arn: str, region: str = "us-east-1") -> dict:
    """Each of the template's logical ids as `make run` names it: what Ref and GetAtt give there."""
    from devtools import tables, template

    names = {}
    for variable in tables.TABLES:
        arn = _table(region, os.environ[variable])
        names[tables.logical_id(variable)] = {"Ref": os.environ[variable], "Arn": arn,
                                              "StreamArn": stream_arn if variable == "REQUESTS_TABLE" else None}
    bucket = os.environ["DOCUMENTS_BUCKET"]
    names[template.BUCKET] = {"Ref": bucket, "Arn": f"arn:aws:s3:::{bucket}"}
    queue = os.environ["EXECUTION_QUEUE"]
    names[template.QUEUE] = {"Ref": queue, "Arn": f"arn:aws:sqs:{region}:{ACCOUNT}:{queue}", "QueueName": queue}
    names[template.SECRET] = {"Ref": os.environ.get("TOKEN_SECRET_ARN")
                              or f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:*"}  # the template names its one secret
    names["SenderEmail"] = {"Ref": os.environ["SENDER_EMAIL"]}
    for logical, name in template.FUNCTION_NAMES.items():
        names[template.log_group(logical)] = {
            "Arn": f"arn:aws:logs:{region}:{ACCOUNT}:log-group:/aws/lambda/privacy-desk-local-{name}:*"}
    names.update({"AWS::Partition": {"Ref": "aws"}, "AWS::Region": {"Ref": region},
                  "AWS::AccountId": {"Ref": ACCOUNT}, "AWS::StackName": {"Ref": "privacy-desk-local"},
                  "AWS::URLSuffix": {"Ref": "amazonaws.com"}})
    return names


def resolve(node, names: dict):
    """A CloudFormation value with Ref, Fn::GetAtt and Fn::Sub replaced by `names`."""
    if isinstance(node, list):
        return [resolve(value, names) for value in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return names[node["Ref"]]["Ref"]
    if set(node) == {"Fn::GetAtt"}:
        logical, attribute = node["Fn::GetAtt"]
        return names[logical][attribute]
    if set(node) == {"Fn::Sub"}:
        def value(match):
            logical, _, attribute = match.group(1).partition(".")
            return names[logical][attribute or "Ref"]
        return re.sub(r"\$\{([^}]+)\}", value, node["Fn::Sub"])
    return {key: resolve(value, names) for key, value in node.items()}


def local_policies(stream_arn: str) -> dict:
    """function -> its role's policy document from the template, with this stack's ARNs."""
    from devtools import template

    names = local_names(stream_arn)
    return {function: resolve(template.role_policy(function)["PolicyDocument"], names)
            for function in roles.FUNCTIONS}


# moto matches most calls against resource "*" (DynamoDB, SES, Secrets Manager, SQS's GetQueueUrl) and S3's
# DeleteObjects against the bucket, not each key: its copy of a statement checks the actions, and the ARNs are
# checked by `allowed` here, for every service alike.
TRANSACT_ACTIONS = {"dynamodb:TransactWriteItems": {f"dynamodb:{a}" for a in ("PutItem", "UpdateItem", "DeleteItem",
                                                                             "ConditionCheckItem")},
                    "dynamodb:TransactGetItems": {"dynamodb:GetItem"}}


def for_moto(policy: dict) -> dict:
    statements = []
    for statement in policy["Statement"]:
        statements.append({"Effect": statement["Effect"], "Action": statement["Action"], "Resource": "*"})
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    transact = [name for name, items in TRANSACT_ACTIONS.items() if actions & items]
    if transact:  # moto checks these names; AWS checks the item actions, which `allowed` does here
        statements.append({"Effect": "Allow", "Action": transact, "Resource": "*"})
    return {"Version": "2012-10-17", "Statement": statements}


def allowed(policy: dict, action: str, resource: str, params: dict | None = None) -> bool:
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in resources):
            continue
        if _conditions_hold(statement.get("Condition", {}), params or {}):
            return statement["Effect"] == "Allow"
    return False


def _conditions_hold(condition: dict, params: dict) -> bool:
    for operator, keys in condition.items():
        for key, expected in keys.items():
            if operator != "StringEquals" or key != "ses:FromAddress":
                raise ValueError(f"devtools/iam.py can't evaluate the condition {operator} {key}")
            if params.get("Source") not in (expected if isinstance(expected, list) else [expected]):
                return False
    return True


# --- credentials and checks in every botocore client -------------------------------------------------------
class _FunctionCredentials(botocore.credentials.Credentials):
    """The credentials of whichever function runs now; the environment's before `enforce`."""

    def __init__(self):
        super().__init__("unset", "unset")

    def get_frozen_credentials(self):
        keys = _state["keys"].get(current()) or _state["keys"].get(OPERATOR)
        if keys:
            return botocore.credentials.ReadOnlyCredentials(keys[0], keys[1], None)
        return botocore.credentials.ReadOnlyCredentials(os.environ.get("AWS_ACCESS_KEY_ID"),
                                                        os.environ.get("AWS_SECRET_ACCESS_KEY"),
                                                        os.environ.get("AWS_SESSION_TOKEN"))

    access_key = property(lambda self: self.get_frozen_credentials().access_key, lambda self, value: None)
    secret_key = property(lambda self: self.get_frozen_credentials().secret_key, lambda self, value: None)
    token = property(lambda self: self.get_frozen_credentials().token, lambda self, value: None)


_CREDENTIALS = _FunctionCredentials()


def install() -> None:
    """Every botocore client made from now on signs as `current()` and has its calls checked. Idempotent."""
    if _state["installed"]:
        return
    _state["installed"] = True
    # a session given keys of its own (a test signing as someone in particular) keeps them
    botocore.session.Session.get_credentials = lambda self: self._credentials or _CREDENTIALS
    original_call = botocore.client.BaseClient._make_api_call

    def _make_api_call(client, operation, params):
        function = current()
        if function == OPERATOR or not _state["policies"]:
            return original_call(client, operation, params)
        service = client.meta.service_model.service_name
        if operation in ("DescribeStream", "GetShardIterator") and params.get("StreamArn"):
            client._iam_stream = params["StreamArn"]  # GetRecords names only an iterator of this stream
        needs = required(service, operation, params, client.meta.region_name, getattr(client, "_iam_stream", None))
        authorize(function, needs, operation, params)
        try:
            return original_call(client, operation, params)
        except ClientError as error:
            if service == "s3" and operation in ("GetObject", "HeadObject") and \
                    error.response["Error"]["Code"] in ("NoSuchKey", "404", "NotFound"):
                # S3 tells "no such key" only to who may list the bucket; others get AccessDenied
                authorize(function, [("s3:ListBucket", f"arn:aws:s3:::{params['Bucket']}")], operation, params)
            raise

    botocore.client.BaseClient._make_api_call = _make_api_call
    original_presign = botocore.signers.generate_presigned_url

    def generate_presigned_url(self, ClientMethod, Params=None, ExpiresIn=3600, HttpMethod=None):  # noqa: N803
        # the link acts with the signer's rights when it is opened: the signer must hold them
        if _state["policies"] and current() != OPERATOR:
            service = self.meta.service_model.service_name
            operation = self.meta.method_to_api_mapping.get(ClientMethod, ClientMethod)
            authorize(current(), required(service, operation, Params or {}, self.meta.region_name), operation,
                      Params or {})
        return original_presign(self, ClientMethod, Params, ExpiresIn, HttpMethod)

    botocore.signers.generate_presigned_url = generate_presigned_url


def authorize(function: str, needs: list, operation: str, params: dict) -> None:
    policy = _state["policies"].get(function)
    for action, resource in needs:
        if os.environ.get("IAM_RECORD_ONLY") == "1":  # `make roles` from scratch: see every call, refuse none
            _record(function, action, resource)
            continue
        if policy is not None and allowed(policy, action, resource, params):
            _record(function, action, resource)  # what was refused is the failing test's to tell
        else:
            raise ClientError({"Error": {
                "Code": "AccessDenied" if action.startswith("s3:") else "AccessDeniedException",
                "Message": f"{function} is not authorized to perform: {action} on resource: {resource} "
                           "(its role in the packaged template doesn't grant it; checked by devtools/iam.py)"},
                "ResponseMetadata": {"HTTPStatusCode": 403 if action.startswith("s3:") else 400}}, operation)


def _record(function: str, action: str, resource: str) -> None:
    directory = os.environ.get("IAM_RECORD_DIR")
    if not directory:
        return
    with _lock:
        if (function, action, resource) in _state["seen"]:  # most calls were seen before: no more work
            return
        _state["seen"].add((function, action, resource))
        entry = (function, action, abstract(resource))
        path = pathlib.Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        with open(path / f"{os.getpid()}.jsonl", "a") as f:
            f.write(json.dumps(dict(zip(("function", "action", "resource"), entry, strict=True))) + "\n")


def abstract(arn: str) -> str:
    """A local ARN in deploy/roles.json's words (`table:REQUESTS_TABLE`, `objects:DOCUMENTS_BUCKET`...)."""
    from devtools import tables

    by_name = {os.environ[v]: v for v in tables.TABLES}
    found = re.fullmatch(r"arn:aws:dynamodb:[^:]*:\d+:table/([^/]+)(?:/(index|stream)/(.+))?", arn)
    if found and found.group(1) in by_name:
        variable = by_name[found.group(1)]
        if found.group(2) == "index":
            return f"index:{variable}/{found.group(3)}"
        return f"stream:{variable}" if found.group(2) == "stream" else f"table:{variable}"
    bucket = os.environ.get("DOCUMENTS_BUCKET")
    if arn == f"arn:aws:s3:::{bucket}":
        return "bucket:DOCUMENTS_BUCKET"
    if arn.startswith(f"arn:aws:s3:::{bucket}/"):
        return "objects:DOCUMENTS_BUCKET"
    if arn.endswith(f":{os.environ.get('EXECUTION_QUEUE')}") and arn.startswith("arn:aws:sqs:"):
        return "queue:EXECUTION_QUEUE"
    if arn.startswith("arn:aws:ses:") and arn.endswith(f"identity/{os.environ.get('SENDER_EMAIL')}"):
        return "identity:SENDER_EMAIL"
    if arn.startswith("arn:aws:secretsmanager:") and arn == os.environ.get("TOKEN_SECRET_ARN"):
        return "secret:TOKEN_SECRET_ARN"
    return arn


# --- moto's IAM -----------------------------------------------------------------------------------------------
def enforce(stream_arn: str) -> dict:
    """One moto IAM user per function with its role's statements (and an operator allowed everything), then
    moto's enforcement on. Returns {function: [key id, secret]} (for other processes: KEYS_VARIABLE)."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto import settings

    install()
    # moto's IAM backend directly: this process runs moto (in-process in the tests, the server in `make run`),
    # and 18 API calls per test would cost the suite minutes
    from moto.iam.models import iam_backends

    backend = iam_backends[ACCOUNT]["aws"]
    policies = local_policies(stream_arn)
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    keys = {}
    for function, policy in [*policies.items(), (OPERATOR, everything)]:
        user = f"privacy-desk-{function.replace('_', '-')}"
        backend.create_user("us-east-1", user)
        backend.put_user_policy(user, "role", json.dumps(for_moto(policy)))
        key = backend.create_access_key(user)
        if function == OPERATOR and os.environ.get("AWS_ACCESS_KEY_ID") and not os.environ.get("AWS_SESSION_TOKEN"):
            # `make run`'s own credentials stay the operator's: tools pointed at the stack (the CLI, a test
            # tampering with a table) act as an administrator would on AWS
            key.access_key_id, key.secret_access_key = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
        keys[function] = [key.access_key_id, key.secret_access_key]
    use(keys, policies)
    if os.environ.get("IAM_RECORD_ONLY") == "1":
        return keys
    _presigned_links_pass()
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    return keys


def _presigned_links_pass() -> None:
    """moto's IAM can't check a query-signed request (a presigned link): it fails with a 500. The signer's right
    to the action was checked when it signed (`generate_presigned_url` above); let moto serve the link."""
    from moto.core.authorization import ActionAuthenticatorMixin

    original = ActionAuthenticatorMixin._authenticate_and_authorize_action
    if getattr(original, "lets_presigned_pass", False):
        return

    def check(self, iam_request_cls, resource="*"):
        if "Authorization" not in self.headers and ("X-Amz-Credential=" in self.uri or "AWSAccessKeyId=" in self.uri):
            return None
        return original(self, iam_request_cls, resource)

    check.lets_presigned_pass = True
    ActionAuthenticatorMixin._authenticate_and_authorize_action = check


def use(keys: dict, policies: dict) -> None:
    """Sign as these users and check against these policies (a process of `make run` given them)."""
    install()
    _state["keys"] = dict(keys)
    _state["policies"] = dict(policies)


def stop_enforcing() -> None:
    from moto import settings

    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    _state["keys"], _state["policies"] = {}, {}


def use_from_environment(stream_arn: str) -> None:
    """In a process of `make run`: the keys `enforce` made in the parent, the policies resolved again."""
    keys = os.environ.get(KEYS_VARIABLE)
    if keys:
        use(json.loads(keys), local_policies(stream_arn))


# --- which function is running -----------------------------------------------------------------------------
# The domain entry point each handler of app.py calls: whatever calls it (the handler, a test, a /_dev route)
# runs as that function. HTTP requests into the app run as the API handler.
ENTRY_POINTS = {"chalicelib.notifications.handle_stream": "on_request_change",
                "chalicelib.execution.handle_messages": "execution_worker",
                "chalicelib.reminders.run": "daily_reminders",
                "chalicelib.housekeeping.run": "housekeeping_run"}


def _as_function(function: str, original):
    if getattr(original, "iam_function", None):
        return original

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        with running(function):
            return original(*args, **kwargs)

    wrapper.iam_function = function
    return wrapper


def wrap_entry_points() -> None:
    from chalice import Chalice

    for path, function in ENTRY_POINTS.items():
        module_name, name = path.rsplit(".", 1)
        module = importlib.import_module(module_name)
        setattr(module, name, _as_function(function, getattr(module, name)))
    Chalice.__call__ = _as_function("api_handler", Chalice.__call__)
    _queue_url_per_function()
    _signing_keys_per_function()


class _PerFunction(dict):
    """A process-wide cache seen per function: on AWS each function has its own containers and caches."""

    def get(self, key, default=None):
        return super().get((current(), key), default)

    def __setitem__(self, key, value):
        super().__setitem__((current(), key), value)

    def pop(self, key, *default):
        # a rotation made in this process (the CLI's, in a test) is seen by every function at once
        found = [super(_PerFunction, self).pop(k) for k in [k for k in self if k[1] == key]]
        return found[0] if found else (default[0] if default else None)


def _signing_keys_per_function() -> None:
    from chalicelib import signing_keys

    if not isinstance(signing_keys._cache, _PerFunction):
        signing_keys._cache = _PerFunction()


def _queue_url_per_function() -> None:
    """chalicelib.aws caches a queue's URL per process; on AWS each function is its own process and asks for it
    itself (so its role needs sqs:GetQueueUrl). Cache it per function here, so each function's first call shows."""
    from chalicelib import aws

    if getattr(aws.queue_url, "per_function", False):
        return
    resolve_url = aws.queue_url.__wrapped__
    cache: dict = {}

    def queue_url(name: str) -> str:
        key = (current(), name)
        if key not in cache:
            cache[key] = resolve_url(name)
        return cache[key]

    queue_url.cache_clear = cache.clear
    queue_url.per_function = True
    aws.queue_url = queue_url
