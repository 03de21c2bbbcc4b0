"""The one place that creates AWS clients.

Clients are created lazily and cached per process (a warm Lambda reuses them). botocore's `standard` retry
mode retries throttling and transient errors with backoff, so a throttled write is retried, not lost.
Endpoints follow AWS_ENDPOINT_URL, which is how the local stack points everything at the embedded moto.
"""
import functools

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)


# SigV4 presigned links everywhere: SigV2 is deprecated, and it is what botocore picks for us-east-1 (locally).
CONFIGS = {"s3": RETRY_CONFIG.merge(Config(signature_version="s3v4"))}


@functools.lru_cache(maxsize=None)
def client(service: str):
    return boto3.session.Session().client(service, config=CONFIGS.get(service, RETRY_CONFIG))


def ses():
    return client("ses")


def s3():
    return client("s3")


def sqs():
    return client("sqs")


@functools.lru_cache(maxsize=None)
def queue_url(name: str) -> str:
    """Resolved once per container: a warm Lambda sends with one call, not two."""
    return sqs().get_queue_url(QueueName=name)["QueueUrl"]
