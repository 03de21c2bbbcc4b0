"""Test setup: the `local` stage's environment, in-process moto, and helpers that read like the product.

The environment must be in place before `app` is imported: models read table names and app.py reads the
stream ARN at import (chalice.test.Client only sets the stage's variables during each call)."""
import pathlib

from devtools.stage_env import use_in_process_moto

ROOT = pathlib.Path(__file__).resolve().parent.parent
use_in_process_moto()

from devtools import iam  # noqa: E402

# Before any client exists: every call signs as the function running (or the operator: the tests' set-up).
iam.install()
iam.wrap_entry_points()

import pytest  # noqa: E402
from chalice.test import Client  # noqa: E402
from moto import mock_aws  # noqa: E402

from tests.support import Api  # noqa: E402


@pytest.fixture
def aws():
    from devtools import stack

    stack.keep_streams_across_failed_transactions()
    with mock_aws():
        arn = stack.provision()
        # Each function under its role from the packaged template, as on AWS (devtools/iam.py).
        iam.enforce(arn)
        try:
            yield arn
        finally:
            iam.stop_enforcing()


@pytest.fixture
def api(aws):
    from app import app

    with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
        yield Api(client, aws)


@pytest.fixture
def team(api):
    """A team with one admin; `team.token` is the admin's bearer token."""
    return api.new_team()


@pytest.fixture(scope="module")
def stack():
    """The real `make run` stack (subprocesses on free ports), one per test module that asks for it."""
    from tests.test_local_stack import LocalStack

    running = LocalStack()
    try:
        running.wait_ready()
        yield running
    finally:
        running.stop()
