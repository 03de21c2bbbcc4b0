"""The local stage's outbox: every email the embedded SES (moto server) accepted, oldest first.

moto keeps sent messages in memory and shows them at /moto-api/data.json; this reads them back so a person
running `make run` can follow the emails' links. Only the local stage registers the route that uses it."""
import json
import os
import urllib.request

from . import mailer


def messages() -> list[dict]:
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if not endpoint:
        return []
    with urllib.request.urlopen(endpoint.rstrip("/") + "/moto-api/data.json", timeout=10) as answer:
        data = json.load(answer)
    raw = data.get("ses", {}).get("RawMessage", [])
    return [mailer.parse(item["raw_data"]) for item in raw]
