"""Each function's role: what it may call, on which of the stack's resources (issue 15, least privilege).

`deploy/roles.json` lists, per function, the actions its code calls and the resources it calls them on, in
the stack's own words (`table:REQUESTS_TABLE`, `index:REQUESTS_TABLE/by_due`, `objects:DOCUMENTS_BUCKET`...).
It is written from what the functions were seen calling (`make roles`: the suite runs with devtools/iam.py
recording every call, then `write` keeps exactly that) and read twice:
- devtools/template.py turns it into each role's policy in the packaged template (`statements`);
- devtools/iam.py resolves that policy to the local stack's names, gives it to the function's user in moto's
  IAM, and checks every call against it.
`check` compares a recording with the file: a call a role doesn't grant, or a grant no call used, fails.

Besides what the code calls, Lambda itself calls a few actions with the function's role; those are in
SERVICE below, each with why, and are granted without being seen.

usage: python -m devtools.roles check|write [RECORDING_DIR]
"""
import json
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
ROLES_FILE = ROOT / "deploy" / "roles.json"
RECORDING_DIR = ROOT / "out" / "iam-calls"

FUNCTIONS = ("api_handler", "on_request_change", "execution_worker", "daily_reminders", "housekeeping_run")

# Granted although no code of ours calls them: the Lambda service calls them with the function's role.
SERVICE = {
    # Every function: the runtime writes its logs to the log group the template creates for it.
    "*": {"logs:CreateLogStream": ["logs:self"], "logs:PutLogEvents": ["logs:self"]},
    # The DynamoDB event source mapping reads the stream with the function's role (Lambda's documented
    # requirement: DescribeStream, GetRecords, GetShardIterator, ListStreams). The local stream reader calls
    # the first three, so they are recorded like any call; ListStreams only Lambda does.
    "on_request_change": {"dynamodb:ListStreams": ["stream:REQUESTS_TABLE"]},
    # The SQS event source mapping polls with the function's role (ReceiveMessage, DeleteMessage,
    # GetQueueAttributes); the local poller calls the first two.
    "execution_worker": {"sqs:GetQueueAttributes": ["queue:EXECUTION_QUEUE"]},
}


def load(path: pathlib.Path = ROLES_FILE) -> dict:
    return json.loads(path.read_text())


def grants(function: str, roles: dict | None = None, service: bool = True) -> dict[str, list[str]]:
    """action -> resources the function's role grants (its calls, plus Lambda's own when `service`)."""
    granted = {action: list(resources) for action, resources in (roles or load())[function].items()}
    for scope in ("*", function) if service else ():
        for action, resources in SERVICE.get(scope, {}).items():
            granted.setdefault(action, [])
            granted[action] += [r for r in resources if r not in granted[action]]
    return granted


def statements(function: str, render, roles: dict | None = None) -> list[dict]:
    """The role's policy statements, one per set of resources, each resource written by `render` (a
    CloudFormation intrinsic in the template, an ARN locally). Sorted, so the output is stable."""
    by_resources: dict[tuple, list[str]] = {}
    for action, resources in sorted(grants(function, roles).items()):
        by_resources.setdefault(tuple(sorted(resources)), []).append(action)
    out = []
    for resources, actions in sorted(by_resources.items()):
        sid = re.sub(r"[^A-Za-z0-9]", "", "".join(part.title() for part in resources[0].replace(":", "_")
                                                  .replace("/", "_").split("_")))
        out.append({"Sid": f"{sid}{len(out)}", "Effect": "Allow", "Action": actions,
                    "Resource": [render(r) for r in resources]})
    return out


# --- recordings (devtools/iam.py writes one JSON line per new call seen: function, action, resource) -------
def recorded(directory: pathlib.Path = RECORDING_DIR) -> dict[str, dict[str, set]]:
    seen: dict[str, dict[str, set]] = {}
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            entry = json.loads(line)
            seen.setdefault(entry["function"], {}).setdefault(entry["action"], set()).add(entry["resource"])
    return seen


def differences(seen: dict, roles: dict) -> list[str]:
    """What the recording and the roles disagree on, in words: an empty list means every role is exact."""
    problems = []
    for function in FUNCTIONS:
        granted = roles.get(function, {})
        used = seen.get(function, {})
        for action, resources in sorted(used.items()):
            for resource in sorted(set(resources) - set(granted.get(action, []))):
                problems.append(f"{function} calls {action} on {resource}, which its role doesn't grant")
        for action, resources in sorted(granted.items()):
            for resource in sorted(set(resources) - set(used.get(action, ()))):
                problems.append(f"{function}'s role grants {action} on {resource}, which it never called")
    return problems


def write(seen: dict, path: pathlib.Path = ROLES_FILE) -> None:
    roles = {function: {action: sorted(resources) for action, resources in sorted(seen.get(function, {}).items())}
             for function in FUNCTIONS}
    path.write_text(json.dumps(roles, indent=2) + "\n")


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    directory = pathlib.Path(argv[1]) if len(argv) > 1 else RECORDING_DIR
    seen = recorded(directory)
    if not seen:
        print(f"no recording in {directory}: run the suite with IAM_RECORD_DIR={directory}", file=sys.stderr)
        return 2
    if command == "write":
        write(seen)
        print(f"{ROLES_FILE}: {sum(len(a) for a in seen.values())} actions over {len(seen)} functions")
        return 0
    problems = differences(seen, load())
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("roles: deploy/roles.json differs from what the functions call (make roles rewrites it)",
              file=sys.stderr)
        return 1
    print(f"roles: each of the {len(FUNCTIONS)} roles grants exactly what its function was seen calling")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
