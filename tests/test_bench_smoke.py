"""devtools/bench.py keeps working, and erasure stays batched: a call-count check, never a timing one.

The bench brings its own in-process moto per run (devtools.bench.fresh_stack); conftest.py has already set the
`local` stage's environment, so these tests use no fixture.
"""
import math

import pytest

from devtools import bench


@pytest.mark.parametrize("scenario", bench.SCENARIOS, ids=lambda s: s.key)
def test_every_bench_operation_runs_at_its_smallest_size(scenario):
    measured = bench.measure(scenario, scenario.sizes[0], repeats=1)  # its check asserts the operation worked
    assert measured.total > 0, measured
    assert all("." in key for key in measured.calls)  # "service.Operation"
    assert measured.name and "{n}" not in measured.name


def test_counting_counts_only_inside_the_block_and_restores_botocore():
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    with bench.fresh_stack() as api:
        api.new_team()  # not counted: no counter is active
        with bench.counting() as calls:
            api.new_team()
        api.new_team()
    assert calls == {"dynamodb.TransactWriteItems": 1, "dynamodb.GetItem": 1}  # create, then mint its token
    assert BaseClient._make_api_call is original


def test_erasure_of_100_dossiers_is_batched_not_per_item():
    size = 100
    pages = math.ceil(size / bench.PURGE_BATCH)  # 4 pages of 25 dossiers
    measured = bench.measure("erasure", size, repeats=1)
    calls = measured.calls

    # Per page: one Query, one BatchWriteItem, one progress UpdateItem; a final empty Query, one Query of the
    # team's connected systems (Art. 19) and a fixed overhead (auth, claim, close) of about ten calls. Deleting
    # dossier by dossier would take > 100 calls.
    dynamodb = measured.service_total("dynamodb")
    assert dynamodb < 40, calls
    assert calls["dynamodb.BatchWriteItem"] <= pages, calls
    assert calls["dynamodb.Query"] <= pages + 2, calls
    assert calls["dynamodb.DeleteItem"] == 0, calls

    # Documents: one DeleteObjects per page, never one DeleteObject per document.
    assert calls["s3.DeleteObjects"] <= pages, calls
    assert calls["s3.DeleteObject"] == 0, calls


def test_a_portal_submission_costs_three_calls():
    calls = bench.measure("portal_submit", repeats=1).calls
    # rate counter, the team's settings (its laws and their rights), the write
    assert calls == {"dynamodb.UpdateItem": 1, "dynamodb.GetItem": 1, "dynamodb.TransactWriteItems": 1}, calls


def test_a_pending_record_reads_its_request_settings_and_markers_once_for_both_emails():
    calls = bench.measure("stream_pending", repeats=1).calls
    assert calls["dynamodb.GetItem"] <= 2 and calls["dynamodb.BatchGetItem"] == 1, calls  # request, settings
    assert sum(calls.values()) <= 9, calls


def test_importing_the_app_leaves_templates_validators_and_crypto_for_later():
    """Cold start: what a handler may not need is imported when first used (bench: cold_start_ratio)."""
    import subprocess
    import sys

    from devtools.stage_env import ROOT

    heavy = ("jinja2", "babel", "fastjsonschema", "email_validator", "jwt", "cryptography", "chalicelib.oidc")
    probe = f"import app, sys; print([m for m in {heavy!r} if m in sys.modules])"
    env = {"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1", "STAGE": "local",
           "REQUESTS_STREAM_ARN": "arn:aws:dynamodb:us-east-1:1:table/x/stream/x"}
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
