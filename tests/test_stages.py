"""Stage configuration: the local-only routes exist only locally; deployed stages are least-privilege."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = json.loads((ROOT / ".chalice" / "config.json").read_text())


STRONG_SECRET = "Vq3xT9pL0sZkR7wYb2NcHf5UjM8eGd4A-_aQ1iWoE6"  # as secrets.token_urlsafe would make it


def import_app(stage: str, **changes) -> subprocess.CompletedProcess:
    """`import app` in a fresh interpreter with the stage's environment (and `changes`; None unsets)."""
    env = dict(os.environ)
    env.update(CONFIG["environment_variables"])
    env.update(CONFIG["stages"][stage]["environment_variables"])
    env.setdefault("REQUESTS_STREAM_ARN", "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/x")
    env.pop("AWS_LAMBDA_FUNCTION_NAME", None)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    code = "import app, json; print(json.dumps(sorted(app.app.routes)))"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)


def routes_of(stage: str) -> set[str]:
    out = import_app(stage)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_outbox_route_exists_in_the_local_stage():
    assert "/_dev/outbox" in routes_of("local")


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_no_dev_route_exists_in_deployed_stages(stage):
    assert not [r for r in routes_of(stage) if r.startswith("/_dev")]


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_stage_s_policy_file_grants_nothing_so_a_plain_chalice_deploy_can_do_nothing(stage):
    """Each role's real policy comes from deploy/roles.json through the template (devtools/template.py); the
    file only satisfies `chalice package` (autogen_policy off). Denying everything, it makes a `chalice deploy`
    that bypasses the template fail at once instead of running with one broad policy shared by every function."""
    assert CONFIG["autogen_policy"] is False
    policy = json.loads((ROOT / ".chalice" / CONFIG["stages"][stage]["iam_policy_file"]).read_text())
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in policy["Statement"]] == [("Deny", "*", "*")]


def test_every_stage_sets_the_variables_the_code_reads():
    """Locally from .chalice/config.json; in deployed stages, what names resources comes from the template
    (devtools/template.py), by reference, and the signing key from Secrets Manager (TOKEN_SECRET_ARN)."""
    from devtools import template

    needed = {"MEMBERS_TABLE", "SETTINGS_TABLE", "DOSSIERS_TABLE", "REQUESTS_TABLE", "MARKERS_TABLE",
              "SYSTEMS_TABLE", "DOCUMENTS_BUCKET", "EXECUTION_QUEUE", "SENDER_EMAIL", "PUBLIC_BASE_URL"}
    for stage, settings in CONFIG["stages"].items():
        if stage == "local":  # `make run` supplies the stream ARN and the API's URL (its port may change)
            assert needed - {"PUBLIC_BASE_URL"} | {"TOKEN_SECRET"} <= set(settings["environment_variables"])
        else:
            deployed = set(settings["environment_variables"]) | set(template.environment())
            assert needed | {"REQUESTS_STREAM_ARN", "TOKEN_SECRET_ARN", "STAGE"} <= deployed, stage
            assert settings["environment_variables"]["STAGE"] == stage


def test_the_deploying_page_names_every_index_the_models_query():
    from chalicelib.models import ALL_MODELS

    deploying = (ROOT / "docs" / "deploying.md").read_text()
    for model in ALL_MODELS:
        assert model.Meta.table_name.replace("-local-", "-dev-") in deploying
        for index in model._indexes.values():
            assert f'`{index.Meta.index_name}`' in deploying, index.Meta.index_name


# --- the token secret of a deployed stage ---------------------------------------------------------------------

@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_a_deployed_function_refuses_to_start_with_the_committed_placeholder_secret(stage):
    # Deployed stages carry no secret in config.json (the template passes TOKEN_SECRET_ARN); one set by hand
    # to the placeholder once committed here must still be refused.
    assert "TOKEN_SECRET" not in CONFIG["stages"][stage]["environment_variables"]
    out = import_app(stage, AWS_LAMBDA_FUNCTION_NAME=f"privacy-desk-{stage}",
                     TOKEN_SECRET="replace-me-with-a-long-random-secret")
    assert out.returncode != 0
    assert "TOKEN_SECRET" in out.stderr and "placeholder" in out.stderr


def test_a_deployed_function_starts_with_a_strong_secret():
    out = import_app("dev", AWS_LAMBDA_FUNCTION_NAME="privacy-desk-dev", TOKEN_SECRET=STRONG_SECRET)
    assert out.returncode == 0, out.stderr


def test_a_deployed_function_refuses_to_start_with_a_weak_log_hash_key():
    out = import_app("dev", AWS_LAMBDA_FUNCTION_NAME="privacy-desk-dev", TOKEN_SECRET=STRONG_SECRET,
                     LOG_HASH_KEY="logs")
    assert out.returncode != 0 and "LOG_HASH_KEY" in out.stderr


def test_packaging_a_deployed_stage_outside_lambda_still_imports_the_app():
    """`chalice package --stage dev` (make package-check) imports app.py with the committed placeholder."""
    out = import_app("dev")
    assert out.returncode == 0, out.stderr


def test_the_local_stage_refuses_to_run_inside_lambda():
    """Its secret is in the repository and its /_dev routes show every email: it must never be deployed."""
    out = import_app("local", AWS_LAMBDA_FUNCTION_NAME="privacy-desk-local")
    assert out.returncode != 0 and "local" in out.stderr


def test_a_function_without_a_stage_name_counts_as_local_and_refuses_to_run_inside_lambda():
    out = import_app("dev", AWS_LAMBDA_FUNCTION_NAME="privacy-desk-dev", STAGE=None, TOKEN_SECRET=STRONG_SECRET)
    assert out.returncode != 0


def _config() -> dict:
    import json
    import pathlib

    return json.loads((pathlib.Path(__file__).parent.parent / ".chalice" / "config.json").read_text())


def test_every_function_is_sized_on_purpose_not_left_at_chalices_defaults():
    from app import app

    sized = _config()["lambda_functions"]
    # Routes all run in the one api_handler function; every other handler is a function of its own.
    handlers = {source.name for source in app.event_sources} | {"api_handler"}
    assert handlers <= set(sized), handlers - set(sized)
    for name, size in sized.items():
        assert {"lambda_memory_size", "lambda_timeout"} <= set(size), name
    # API Gateway ends every call at 29 s: a longer timeout would let the handler run on for nobody.
    assert sized["api_handler"]["lambda_timeout"] <= 29


def test_a_slice_s_lease_outlives_the_worker_s_timeout_in_every_stage():
    from devtools.executions import worker_timeout_ms
    from devtools.stage_env import stage_environment
    from devtools.stack import EXECUTION_VISIBILITY_SECONDS

    config = _config()
    for stage in config["stages"]:
        lease = int(stage_environment(stage).get("EXECUTION_LEASE_SECONDS", "360"))
        timeout = worker_timeout_ms(stage) / 1000
        assert lease > timeout, stage
        assert EXECUTION_VISIBILITY_SECONDS >= 6 * timeout, stage  # AWS's advice for SQS event sources
