"""The local stage's outbox: every email the embedded SES (moto server) accepted, oldest first.

moto keeps sent messages in memory and shows them at /moto-api/data.json; this reads them back so a person
running `make run` can follow the emails' links. Only the local stage registers the route that uses it."""
import json
import os
import time
import urllib.error
import urllib.request

from . import mailer


ATTEMPTS = 5


def messages() -> list[dict]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return []
    raw = _data(endpoint.rstrip("/") + "/moto-api/data.json").get("ses", {}).get("RawMessage", [])
    return [mailer.parse(item["raw_data"]) for item in raw]


def _data(url: str) -> dict:
    """moto's dump of every backend. It answers 500 when an object changes while it is being dumped (an S3 key
    written by the worker meanwhile: "FakeKey is not JSON serializable"), so a failed dump is tried again."""
    for attempt in range(ATTEMPTS):
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return json.load(answer)
        except urllib.error.HTTPError as exc:
            if exc.code != 500 or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    return {}
