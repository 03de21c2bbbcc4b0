"""A stage's environment as `.chalice/config.json` defines it, for code that runs the app outside Chalice's CLI.

Imports nothing of chalicelib: models read table names at import, so this must run first."""
import json
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PLACEHOLDER_STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/privacy-desk-local-requests/stream/test"


def stage_environment(stage: str = "local") -> dict:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    env = dict(config["environment_variables"])
    env.update(config["stages"][stage]["environment_variables"])
    return env


def use_in_process_moto() -> None:
    """The `local` stage against in-process moto (tests, bench): fake credentials, no endpoint override."""
    os.environ.update(stage_environment("local"))
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1", "REQUESTS_STREAM_ARN": PLACEHOLDER_STREAM_ARN,
    })
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        os.environ.pop(name, None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
