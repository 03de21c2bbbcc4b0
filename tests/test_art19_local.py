"""Art. 19 under `make run`, as the issue's "done when" says: a webhook system pointing at a local receiver and a
manual one; an erasure executed; the receiver gets a correctly signed event (again after a first 500) and
confirms by callback; the manual owner marks the task done on its page; only then is the request completed,
the client's notice names both systems, and the request's record verifies — until one entry is altered in the
table."""
import os
import subprocess
import time
import urllib.parse
import urllib.request

import boto3

from tests.receiver import Receiver
from tests.test_local_stack import ROOT, Http, free_port, link, python

CLIENT = "carol@client.example"
OWNER = "archivist@demo.example"
WAIT_SECONDS = 30


def wait_until(check, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {WAIT_SECONDS}s")


def post_form(url: str, fields: dict) -> int:
    request = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(), method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def test_make_run_tells_every_connected_system_and_proves_it(stack):
    http, team, admin = Http(stack.api), stack.team_id, stack.admin_token
    receiver = Receiver()
    receiver.answers = [500]  # the first delivery fails; the retry must come by itself
    try:
        status, crm = http.put(f"/teams/{team}/privacy/systems/crm",
                               {"name": "Demo CRM", "kind": "webhook", "url": receiver.url}, token=admin)
        assert status == 201 and crm["secret"].startswith("whsec_"), crm
        receiver.secret = crm["secret"]
        status, archive = http.put(f"/teams/{team}/privacy/systems/archive",
                                   {"name": "Paper archive", "kind": "manual", "owner_email": OWNER}, token=admin)
        assert status == 201, archive

        status, _ = http.post(f"/teams/{team}/dossiers", {"client_email": CLIENT, "title": "Carol"}, token=admin)
        assert status == 201
        status, submitted = http.post(f"/portal/{team}/privacy/requests", {"email": CLIENT, "type": "erasure"})
        assert status == 202, submitted
        verification = http.wait_for_mail(CLIENT, lambda m: link(m, "/portal/privacy/verify/"), "verification")
        assert http.get(link(verification, "/portal/privacy/verify/"))[0] == 200
        request_id = submitted["request_id"]
        officer_mail = http.wait_for_mail("admin@demo.example", lambda m: link(m, "/actions/"), "officer email")
        assert "Demo CRM" in officer_mail["text"] and "Paper archive" in officer_mail["text"]

        status, claimed = http.post(f"/teams/{team}/privacy/requests/{request_id}/execute", {"confirm": True},
                                    token=admin)
        assert status == 202, claimed

        wait_until(lambda: len(receiver.events) >= 2, "a retried delivery after the receiver's 500")
        first, second = receiver.events[:2]
        assert first["verified"] and second["verified"], "the events must verify with the standardwebhooks package"
        assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]  # the same event, retried
        assert second["body"]["data"]["email"] == CLIENT

        status, view = http.get(f"/teams/{team}/privacy/requests/{request_id}", token=admin)
        assert view["status"] == "in_progress", view  # two systems still to answer

        status, answer = Receiver.confirm(second["body"]["data"]["callback_url"], "completed", "contact deleted")
        assert status == 200, answer
        status, view = http.get(f"/teams/{team}/privacy/requests/{request_id}", token=admin)
        assert view["status"] == "in_progress", view  # the manual system has not answered yet

        task_mail = http.wait_for_mail(OWNER, lambda m: link(m, "/privacy/tasks/"), "the owner's task email")
        assert CLIENT in task_mail["text"]
        page_url = link(task_mail, "/privacy/tasks/")
        status, page = http.get(page_url)
        assert status == 200 and "Paper archive" in page
        assert post_form(page_url, {"action": "done"}) == 200

        notice = http.wait_for_mail(CLIENT, lambda m: "deleted" in m["subject"].lower(), "the client's notice")
        assert "Demo CRM" in notice["text"] and "Paper archive" in notice["text"]
        status, done = http.get(f"/teams/{team}/privacy/requests/{request_id}", token=admin)
        assert done["status"] == "completed"
        assert {t["system_id"]: t["status"] for t in done["recipients"]} == {"crm": "completed", "archive": "completed"}

        status, record = http.get(f"/teams/{team}/privacy/requests/{request_id}/record", token=admin)
        assert status == 200 and record["verifies"] is True, record
        events = [entry["event"] for entry in record["entries"]]
        assert {"received", "verified", "execution_started", "work_done", "recipient_answered", "completed"} <= set(events)

        tamper_with_history(stack, team, request_id, seq=2)
        status, record = http.get(f"/teams/{team}/privacy/requests/{request_id}/record", token=admin)
        assert status == 200 and record["verifies"] is False and record["at_seq"] == 2, record
    finally:
        receiver.stop()


def tamper_with_history(stack, team: str, request_id: str, seq: int) -> None:
    """What someone with write access to the table might do: change who did something, in place."""
    dynamodb = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{stack.moto_port}", region_name="us-east-1",
                            aws_access_key_id="local", aws_secret_access_key="local")  # make run's operator
    table = next(name for name in dynamodb.list_tables()["TableNames"] if name.endswith("-requests"))
    dynamodb.update_item(TableName=table, Key={"team_id": {"S": team}, "request_id": {"S": request_id}},
                         UpdateExpression=f"SET history[{seq}].#by = :someone",
                         ExpressionAttributeNames={"#by": "by"},
                         ExpressionAttributeValues={":someone": {"S": "someone-else"}})


def readme_receiver() -> str:
    """The README's 15-line receiver, exactly as written there."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Telling the other applications (Art. 19)", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) <= 16, "the README promises a receiver in about 15 lines"
    return code


def test_the_readmes_receiver_verifies_the_event_and_completes_the_task_by_callback(stack, tmp_path):
    http, team, admin = Http(stack.api), stack.team_id, stack.admin_token
    status, listed = http.get(f"/teams/{team}/privacy/systems", token=admin)
    for system in listed["items"]:  # only the README's receiver this time
        assert http.call("DELETE", f"/teams/{team}/privacy/systems/{system['system_id']}", token=admin)[0] == 200
    port = free_port()
    status, system = http.put(f"/teams/{team}/privacy/systems/readme", {
        "name": "README receiver", "kind": "webhook", "url": f"http://127.0.0.1:{port}/"}, token=admin)
    assert status == 201, system
    script = tmp_path / "receiver.py"
    script.write_text(readme_receiver())
    process = subprocess.Popen([python(), str(script)], env={**os.environ, "PORT": str(port),
                                                             "WEBHOOK_SECRET": system["secret"]})
    try:
        client = "dave@client.example"
        status, submitted = http.post(f"/portal/{team}/privacy/requests", {"email": client, "type": "erasure"})
        verification = http.wait_for_mail(client, lambda m: link(m, "/portal/privacy/verify/"), "verification")
        assert http.get(link(verification, "/portal/privacy/verify/"))[0] == 200
        request_id = submitted["request_id"]
        status, _ = http.post(f"/teams/{team}/privacy/requests/{request_id}/execute", {"confirm": True}, token=admin)
        assert status == 202

        def completed():
            view = http.get(f"/teams/{team}/privacy/requests/{request_id}", token=admin)[1]
            return view if view["status"] == "completed" else None

        view = wait_until(completed, "completion through the README receiver's callback")
        [task] = view["recipients"]
        assert (task["status"], task["answered_by"], task["note"]) == (
            "completed", {"kind": "system", "id": "readme"}, "erased in the CRM")
    finally:
        process.kill()
        process.wait()
