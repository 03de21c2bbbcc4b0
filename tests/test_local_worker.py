"""Issue 8, under `make run`: executing an erasure of a client with 300 dossiers answers 202 at once, and the
request reaches `completed` with the right counts even when the worker process is killed mid-way (SIGKILL,
as a Lambda timeout or crash would end it): every dossier gone and one client notice."""
import os
import queue
import signal
import time

import boto3

from tests.test_local_stack import Http, LocalStack, link

CLIENT = "big.client@client.example"
DOSSIERS = 300


def _next_worker_pid(stack, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = stack.lines.get(timeout=1)
        except queue.Empty:
            continue
        name, _, value = line.partition(": ")
        if name == "worker_pid":
            return int(value)
    raise AssertionError(f"run_local printed no worker_pid:\n{stack.log_tail()}")


def _seed(stack, team_id: str) -> None:
    """300 dossiers with a document each, written straight into the embedded AWS (fast, as a bench would)."""
    endpoint = f"http://127.0.0.1:{stack.moto_port}"
    session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-east-1")
    ddb, s3 = session.client("dynamodb", endpoint_url=endpoint), session.client("s3", endpoint_url=endpoint)
    items = []
    for n in range(DOSSIERS):
        dossier_id, key = f"d_SEED{n:022d}", f"teams/{team_id}/dossiers/d_SEED{n:022d}/documents/doc_{n}"
        s3.put_object(Bucket="privacy-desk-local-documents", Key=key, Body=b"%PDF-1.4 scan")
        items.append({"PutRequest": {"Item": {
            "team_id": {"S": team_id}, "dossier_id": {"S": dossier_id},
            "team_email": {"S": f"{team_id}#{CLIENT}"}, "client_email": {"S": CLIENT}, "title": {"S": f"File {n}"},
            "fields": {"S": "{}"}, "created_at": {"S": "2026-01-01T00:00:00Z"},
            "documents": {"L": [{"M": {"document_id": {"S": f"doc_{n}"}, "filename": {"S": "scan.pdf"},
                                       "s3_key": {"S": key}, "size": {"N": "13"},
                                       "uploaded_at": {"S": "2026-01-01T00:00:00Z"}}}]}}}})
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={"privacy-desk-local-dossiers": items[start:start + 25]})


def test_a_killed_worker_still_ends_with_every_dossier_gone_and_one_notice():
    stack = LocalStack()
    try:
        stack.wait_ready()
        http, team, admin = Http(stack.api), stack.team_id, stack.admin_token
        pid = _next_worker_pid(stack)
        _seed(stack, team)
        status, _ = http.post(f"/portal/{team}/privacy/requests", {"email": CLIENT, "type": "erasure"})
        assert status == 202
        verification = http.wait_for_mail(CLIENT, lambda m: link(m, "/portal/privacy/verify/"), "verification")
        assert http.get(link(verification, "/portal/privacy/verify/"))[0] == 200
        status, listed = http.get(f"/teams/{team}/privacy/requests?status=pending", token=admin)
        request_id = listed["items"][0]["request_id"]

        started = time.monotonic()
        status, claimed = http.post(f"/teams/{team}/privacy/requests/{request_id}/execute", {"confirm": True},
                                    token=admin)
        answered_in = time.monotonic() - started
        assert status == 202 and claimed["status"] == "in_progress", claimed

        # Kill the worker as soon as it has deleted part of the client's data.
        deadline = time.monotonic() + 60
        while True:
            view = http.get(f"/teams/{team}/privacy/requests/{request_id}", token=admin)[1]
            if (view["progress"] or {}).get("dossiers_deleted", 0) > 0 or view["progress"] and view["progress"].get("in_flight"):
                break
            assert view["status"] == "in_progress" and time.monotonic() < deadline, view
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        assert view["status"] == "in_progress", "the erasure finished before the worker could be killed"
        replacement = _next_worker_pid(stack)
        assert replacement != pid

        deadline = time.monotonic() + 90  # the lease (20 s locally) runs out, the watchdog queues it again
        while view["status"] == "in_progress":
            assert time.monotonic() < deadline, (view, stack.log_tail())
            time.sleep(0.5)
            view = http.get(f"/teams/{team}/privacy/requests/{request_id}", token=admin)[1]
        assert view["status"] == "completed", view
        assert view["result"]["dossiers_deleted"] == DOSSIERS and view["result"]["documents_deleted"] == DOSSIERS
        assert http.get(f"/teams/{team}/dossiers?client_email={CLIENT}", token=admin)[1]["items"] == []
        http.wait_for_mail(CLIENT, lambda m: "deleted" in m["subject"].lower(), "deletion notice")
        time.sleep(2)  # a duplicate would come within the stream worker's next polls
        notices = [m for m in http.outbox() if CLIENT in m["to"] and "deleted" in m["subject"].lower()]
        assert len(notices) == 1
        assert answered_in < 5, f"execute took {answered_in:.1f}s: the work must not run inside the API call"
    finally:
        stack.stop()
