"""The local stand-in for the SQS event source of `execution_worker`: take each queued message from the
embedded SQS and call the deployed handler with it and a Lambda context of the worker's configured timeout.

As on AWS, a message whose slice raised is left in the queue and comes back after its visibility timeout;
the watchdog (housekeeping) queues again what a dead slice dropped.

`python -m devtools.executions` is the worker process that `make run` starts (and restarts if it dies, as
Lambda would start a new container): it can be killed at any moment, like a Lambda that times out."""
import json
import pathlib
import sys

from chalice.local import LambdaContext

ROOT = pathlib.Path(__file__).resolve().parent.parent


def worker_timeout_ms(stage: str = "local") -> int:
    """The worker's Lambda timeout as .chalice/config.json sets it for the stage (else top level, else 60 s)."""
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    scoped = config["stages"][stage].get("lambda_functions", {}).get("execution_worker", {})
    seconds = scoped.get("lambda_timeout") or config.get("lambda_functions", {}).get(
        "execution_worker", {}).get("lambda_timeout") or 60
    return int(seconds) * 1000


def run_slices(limit: int = 20) -> int:
    """Run up to `limit` queued slices; returns how many ran."""
    from app import execution_worker
    from chalicelib import aws, config

    url = aws.queue_url(config.get("EXECUTION_QUEUE"))
    ran = 0
    while ran < limit:
        answer = aws.sqs().receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            break
        message = messages[0]
        event = {"Records": [{"body": message["Body"], "receiptHandle": message["ReceiptHandle"],
                              "messageId": message["MessageId"], "eventSource": "aws:sqs", "attributes": {},
                              "messageAttributes": {}}]}
        context = LambdaContext("execution_worker", memory_size=512, max_runtime_ms=worker_timeout_ms())
        ran += 1
        try:
            execution_worker(event, context)
        except Exception as exc:  # noqa: BLE001 — left in the queue, as SQS would, for a later retry
            print(f"execution worker: slice failed, SQS will hand it back: {exc}", file=sys.stderr, flush=True)
            continue
        aws.sqs().delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return ran


def main() -> None:
    """The worker process: run queued slices until killed."""
    import os
    import time

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("REQUESTS_STREAM_ARN", "arn:aws:dynamodb:us-east-1:123456789012:table/x/stream/x")
    from devtools import iam

    iam.use_from_environment(os.environ["REQUESTS_STREAM_ARN"])  # signs as execution_worker, under its role
    print(f"execution worker: pid {os.getpid()}", file=sys.stderr, flush=True)
    while True:
        if not run_slices():
            time.sleep(0.2)


if __name__ == "__main__":
    main()
