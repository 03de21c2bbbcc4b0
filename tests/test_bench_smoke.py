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

    # Per page: one Query, one BatchWriteItem, one progress UpdateItem; a final empty Query and a fixed
    # overhead (auth, claim, close) of about ten calls. Deleting dossier by dossier would take > 100 calls.
    dynamodb = measured.service_total("dynamodb")
    assert dynamodb < 40, calls
    assert calls["dynamodb.BatchWriteItem"] <= pages, calls
    assert calls["dynamodb.Query"] <= pages + 1, calls
    assert calls["dynamodb.DeleteItem"] == 0, calls

    # Documents: one DeleteObjects per page, never one DeleteObject per document.
    assert calls["s3.DeleteObjects"] <= pages, calls
    assert calls["s3.DeleteObject"] == 0, calls
