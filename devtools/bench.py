"""`make bench`: AWS calls per operation (the stable figure) and wall-clock time (the noisy one).

Every measured run gets a fresh in-process moto (mock_aws) provisioned by devtools.stack, the app driven through
chalice.test.Client and the requests table's stream fed to the real handler — the same set-up as the tests.
AWS calls are counted by service and operation on every botocore client (boto3's and PynamoDB's alike) by
wrapping botocore's BaseClient._make_api_call while an operation runs; set-up work is never counted. The count
is of API calls made by the code: botocore retries of one call (throttling, which moto never does) are not
separate calls here.

Times are the median of several runs on moto in-process: they move with the machine and include moto's own
simulation cost. Compare them only with each other on one machine, never assert on them.

    .venv/bin/python -m devtools.bench            # the full table (about a minute)
    .venv/bin/python -m devtools.bench --quick    # every operation once, at its smallest size
    .venv/bin/python -m devtools.bench --only erasure --repeats 1
    .venv/bin/python -m devtools.bench --only export_memory   # the export's peak memory at 20 and 200 MiB

After the table, the export's peak memory (issue 8) as `name: value` lines: export_peak_mib_20,
export_peak_mib_200 and export_memory_ratio (about 20 s, on a moto server in another process).
"""
import argparse
import base64
import collections
import contextlib
import dataclasses
import datetime as dt
import math
import os
import pathlib
import statistics
import sys
import textwrap
import time
from typing import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
PURGE_BATCH = 25  # chalicelib.purge.BATCH: dossiers per page (BatchWriteItem's limit)


def configure_environment() -> None:
    """The `local` stage's environment, as tests/conftest.py sets it; must run before chalicelib is imported."""
    from devtools.stage_env import use_in_process_moto

    use_in_process_moto()


# --- counting AWS calls ---------------------------------------------------------------------------------------

_counters: list[collections.Counter] = []
# What Lambda's SQS event source does for the worker (the tests' stand-in makes these calls): not the app's.
POLLER_CALLS = {"sqs.ReceiveMessage", "sqs.DeleteMessage"}
_original_make_api_call = None


@contextlib.contextmanager
def counting():
    """Count every botocore API call made inside the block, as "service.Operation" → calls."""
    global _original_make_api_call
    from botocore.client import BaseClient

    calls: collections.Counter = collections.Counter()
    outermost = not _counters
    if outermost:
        _original_make_api_call = original = BaseClient._make_api_call

        def counted(client, operation_name, api_params):
            key = f"{client.meta.service_model.service_name}.{operation_name}"
            if key not in POLLER_CALLS:
                for counter in _counters:
                    counter[key] += 1
            return original(client, operation_name, api_params)

        BaseClient._make_api_call = counted
    _counters.append(calls)
    try:
        yield calls
    finally:
        _counters.remove(calls)
        if outermost:
            BaseClient._make_api_call = _original_make_api_call


# --- a fresh stack per run ------------------------------------------------------------------------------------

@contextlib.contextmanager
def fresh_stack():
    """In-process moto with the stage's tables, bucket and sender; yields tests.support.Api on the real app."""
    from chalice.test import Client
    from moto import mock_aws

    with mock_aws():
        from app import app
        from devtools import stack
        from tests.support import Api

        arn = stack.provision()
        with Client(app, stage_name="local", project_dir=str(ROOT)) as client:
            yield Api(client, arn)


# --- seeding (set-up, never counted): items shaped as the product writes them -----------------------------------

def seed_dossiers(team_id: str, email: str, count: int, documents: int = 1) -> list[str]:
    """`count` dossiers of the client, each with `documents` small encrypted S3 objects."""
    from chalicelib import aws, clock, config, ids
    from chalicelib.dossiers import document_key, team_email_key
    from chalicelib.models import DocumentRef, Dossier

    s3, bucket, stamp = aws.s3(), config.get("DOCUMENTS_BUCKET"), clock.iso(clock.now())
    made = []
    with Dossier.batch_write() as batch:
        for index in range(count):
            dossier_id = ids.new_id("d_")
            refs = []
            for _ in range(documents):
                document_id = ids.new_id("doc_")
                key = document_key(team_id, dossier_id, document_id)
                s3.put_object(Bucket=bucket, Key=key, Body=b"%PDF-1.4 scan", ServerSideEncryption="AES256")
                refs.append(DocumentRef(document_id=document_id, filename="scan.pdf", s3_key=key, size=13,
                                        uploaded_at=stamp))
            batch.save(Dossier(team_id, dossier_id, team_email=team_email_key(team_id, email), client_email=email,
                               title=f"File {index}", fields={"name": "Client"}, consent=None, documents=refs,
                               created_at=stamp, created_by="bench"))
            made.append(dossier_id)
    return made


def seed_requests(team_id: str, count: int, status: str = "pending", received: dt.datetime | None = None,
                  expired: bool = False) -> list[str]:
    """`count` requests of distinct clients: verified and open (`pending`), or unverified and past expiry."""
    from chalicelib import clock, ids
    from chalicelib import privacy_requests as pr
    from chalicelib.models import PrivacyRequest

    received = received or clock.now()
    made = []
    with PrivacyRequest.batch_write() as batch:
        for index in range(count):
            email = f"client{index}-{ids.new_id()[-6:].lower()}@client.example"
            fields = dict(team_status=f"{team_id}#{status}", type="erasure", status=status, email=email,
                          received_at=clock.iso(received), due_at=clock.iso(clock.due_date(received)),
                          verification_sends=1, lock_key=pr.lock_key(team_id, "erasure", email))
            if status == pr.AWAITING:
                fields["expires_at"] = (clock.now() - dt.timedelta(days=1)) if expired else \
                    (received + pr.UNVERIFIED_LIFETIME)
            else:
                fields.update(verified_at=clock.iso(received), open_due=pr.OPEN_DUE)
            item = PrivacyRequest(team_id, ids.new_id("r_"), **fields)
            batch.save(item)
            made.append(item.request_id)
    return made


# --- the operations ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Prepared:
    run: Callable[[], object]  # the measured operation (counted and timed)
    check: Callable[[object], None] = lambda result: None  # afterwards, not counted: the operation worked


def _status(answer, expected: int):
    assert answer.status_code == expected, (answer.status_code, answer.body)
    return answer


def _payload(response) -> dict:
    return response.payload


def prep_create_dossier(api, size, consent: bool):
    team = api.new_team()
    body = {"client_email": "alice@client.example", "title": "Onboarding", "fields": {"name": "Alice"}}
    if consent:
        _status(api.patch(f"/teams/{team.id}/privacy/settings",
                          {"consent_capture_enabled": True, "consent_text": "I agree."}, token=team.token), 200)
        body["consent"] = {"accepted": True}
    run = lambda: api.post(f"/teams/{team.id}/dossiers", body, token=team.token)  # noqa: E731
    return Prepared(run, lambda answer: _status(answer, 201))


def prep_upload_document(api, size):
    team = api.new_team()
    dossier = api.new_dossier(team, "alice@client.example")
    body = {"filename": "passport.pdf", "content_base64": base64.b64encode(b"%PDF-1.4 " + b"x" * 20_000).decode()}
    run = lambda: api.post(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}/documents", body,  # noqa: E731
                           token=team.token)
    return Prepared(run, lambda answer: _status(answer, 201))


def prep_portal_submit(api, size):
    team = api.new_team()
    return Prepared(lambda: api.submit(team, "alice@client.example", "erasure"), lambda a: _status(a, 202))


def prep_verify_link(api, size):
    team = api.new_team()
    _status(api.submit(team, "alice@client.example", "erasure"), 202)
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    return Prepared(lambda: api.get(link), lambda answer: _status(answer, 200))


def _emails_sent(expected: int):
    def check(response):
        payload = _payload(response)
        assert payload.get("emails_sent") == expected, payload
    return check


def prep_stream_verification(api, size):
    team = api.new_team()
    _status(api.submit(team, "alice@client.example", "erasure"), 202)
    records = api.stream_records()
    assert len(records) == 1, records
    return Prepared(lambda: api.deliver(records), _emails_sent(1))


def prep_stream_pending(api, size):
    team = api.new_team()
    api.new_dossier(team, "alice@client.example")
    _status(api.submit(team, "alice@client.example", "erasure"), 202)
    api.pump()
    _status(api.get(api.last_link_to("alice@client.example", "/portal/privacy/verify/")), 200)
    records = api.stream_records()
    assert len(records) == 1, records
    return Prepared(lambda: api.deliver(records), _emails_sent(2))  # the officer's email and the client's receipt


class Executed:
    """What executing did: the API's answer (202) and the worker's slices, which the measurement includes."""

    def __init__(self, answer, slices, view):
        self.answer, self.slices, self.view = answer, slices, view


def _execute(api, team, request_id):
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/execute", {"confirm": True}, token=team.token)
    slices = api.work()
    return Executed(answer, slices, lambda: api.request_view(team, request_id))


def prep_erasure(api, size):
    from tests.support import s3_keys

    team = api.new_team()
    seed_dossiers(team.id, "alice@client.example", size, documents=1)
    other = seed_dossiers(team.id, "bob@client.example", 2, documents=1)  # another client: must survive
    request_id = api.verified_request(team, "alice@client.example", "erasure")

    def check(executed):
        _status(executed.answer, 202)
        result = executed.view()["result"]
        assert result == {"dossiers_deleted": size, "documents_deleted": size, "exports_deleted": 0}, result
        remaining = s3_keys(f"teams/{team.id}/")
        assert len(remaining) == len(other) and all(any(d in k for d in other) for k in remaining), remaining

    return Prepared(lambda: _execute(api, team, request_id), check)


def prep_access_export(api, size):
    team = api.new_team()
    seed_dossiers(team.id, "alice@client.example", size, documents=1)
    request_id = api.verified_request(team, "alice@client.example", "access")

    def check(executed):
        _status(executed.answer, 202)
        result = executed.view()["result"]
        assert result["dossiers"] == size and result["documents"] == size, result

    return Prepared(lambda: _execute(api, team, request_id), check)


def _with_receiver(api, completion: str = "callback"):
    """A team with one webhook system pointing at a real local receiver (tests/receiver.py), and a client's
    erasure whose own part is done: its delivery message waits on the queue."""
    from tests.receiver import Receiver

    receiver = Receiver()
    team = api.new_team()
    answer = api.put(f"/teams/{team.id}/privacy/systems/crm", {"name": "CRM", "kind": "webhook",
                                                                 "url": receiver.url, "completion": completion},
                     token=team.token)
    _status(answer, 201)
    receiver.secret = answer.json_body["secret"]
    request_id = api.verified_request(team, "alice@client.example", "erasure")
    api.post(f"/teams/{team.id}/privacy/requests/{request_id}/execute", {"confirm": True}, token=team.token)
    assert api.work(max_slices=1) == ["recipients"]  # the erasure slice; the delivery is still queued
    return receiver, team, request_id


def prep_deliver(api, size):
    receiver, team, request_id = _with_receiver(api)

    def check(slices):
        receiver.stop()
        assert slices == ["delivered"] and receiver.events[0]["verified"], (slices, receiver.events)

    return Prepared(lambda: api.work(), check)


def prep_callback(api, size):
    import urllib.parse

    receiver, team, request_id = _with_receiver(api)
    api.work()
    receiver.stop()
    path = urllib.parse.urlsplit(receiver.events[0]["body"]["data"]["callback_url"]).path

    def check(answer):
        _status(answer, 200)
        assert answer.json_body["request_status"] == "completed", answer.json_body

    return Prepared(lambda: api.post(path, {"status": "completed"}), check)


def prep_reminders(api, size):
    from chalicelib import clock, reminders

    team = api.new_team()
    seed_requests(team.id, size, "pending")
    in_25_days = clock.now() + dt.timedelta(days=25)  # due in about 6 days: each earns one reminder

    def check(sent):
        assert sent == {"officer_reminder": size, "officer_overdue": 0}, sent

    return Prepared(lambda: reminders.run(in_25_days), check)


def prep_list_requests(api, size):
    team = api.new_team()
    seed_requests(team.id, size, "pending")

    def check(answer):
        _status(answer, 200)
        assert len(answer.json_body["items"]) == min(size, 25), len(answer.json_body["items"])

    return Prepared(lambda: api.get(f"/teams/{team.id}/privacy/requests", token=team.token), check)


def prep_list_requests_behind_expired(api, size):
    """The newest `size` requests are unverified and expired (TTL deletes lazily): the filter hides them."""
    team = api.new_team()
    seed_requests(team.id, 30, "pending")
    seed_requests(team.id, size, "awaiting_verification", expired=True)

    def check(answer):
        _status(answer, 200)
        items = answer.json_body["items"]
        assert len(items) == 25 and all(i["status"] == "pending" for i in items), len(items)

    return Prepared(lambda: api.get(f"/teams/{team.id}/privacy/requests", token=team.token), check)


def prep_console_queue(api, size):
    """A signed-in officer opens the console's queue: `size` open requests, the first 25 shown."""
    from tests.console_support import Console

    team = api.new_team()
    seed_requests(team.id, size, "pending")
    console = Console(api)
    console.sign_in(team.admin_email)

    def check(answer):
        _status(answer, 200)
        assert answer.body.count(b"<tr id=") == min(size, 25), answer.body.count(b"<tr id=")

    return Prepared(lambda: console.get(f"/console/teams/{team.id}/requests"), check)


def prep_opt_out_submit(api, size):
    """A Californian client opts out of sale/sharing with their browser's GPC signal beside an access request:
    two requests written, the opt-out already claimed and queued (no verification)."""
    team = api.new_team()
    _status(api.patch(f"/teams/{team.id}/privacy/settings", {"regime": "ccpa"}, token=team.token), 200)
    body = {"email": "cal@client.example", "type": "access"}
    run = lambda: api.post(f"/portal/{team.id}/privacy/requests", body, headers={"Sec-GPC": "1"})  # noqa: E731
    return Prepared(run, lambda answer: _status(answer, 202))


def prep_yearly_report(api, size):
    """The yearly report (CCPA regs §7102) of a team that received `size` requests this year."""
    from chalicelib import clock

    team = api.new_team()
    seed_requests(team.id, size, "pending")
    year = clock.now().year

    def check(answer):
        _status(answer, 200)
        assert answer.json_body["totals"]["received"] == size, answer.json_body["totals"]

    return Prepared(lambda: api.get(f"/teams/{team.id}/privacy/report?year={year}", token=team.token), check)


@dataclasses.dataclass
class Scenario:
    key: str
    label: str  # may use {n}
    prepare: Callable
    sizes: tuple = (1,)
    repeats: dict | None = None  # size → runs; default DEFAULT_REPEATS

    def name(self, size) -> str:
        return self.label.format(n=size)


DEFAULT_REPEATS = 7

SCENARIOS = [
    Scenario("create_dossier", "create dossier (consent off)", lambda a, n: prep_create_dossier(a, n, False)),
    Scenario("create_dossier_consent", "create dossier (consent on)", lambda a, n: prep_create_dossier(a, n, True)),
    Scenario("upload_document", "upload a document (20 kB)", prep_upload_document),
    Scenario("portal_submit", "portal submit", prep_portal_submit),
    Scenario("verify_link", "verification link open", prep_verify_link),
    Scenario("stream_verification", "stream: verification record (client email)", prep_stream_verification),
    Scenario("stream_pending", "stream: pending record (officer + receipt)", prep_stream_pending),
    Scenario("erasure", "execute erasure, N={n} dossiers x 1 doc", prep_erasure, sizes=(1, 10, 100, 500),
             repeats={1: 5, 10: 5, 100: 3, 500: 3}),
    Scenario("access_export", "execute access export, N={n} x 1 doc", prep_access_export, sizes=(10,),
             repeats={10: 5}),
    Scenario("deliver", "webhook delivery attempt (Art. 19, one system)", prep_deliver, repeats={1: 5}),
    Scenario("callback", "system's callback that completes the request", prep_callback, repeats={1: 5}),
    Scenario("reminders", "daily reminders, R={n} open requests", prep_reminders, sizes=(10, 50),
             repeats={10: 5, 50: 3}),
    Scenario("list_requests", "list requests page ({n} in team)", prep_list_requests, sizes=(60,)),
    Scenario("console_queue", "console: the queue page ({n} open requests)", prep_console_queue, sizes=(60,),
             repeats={60: 3}),
    Scenario("opt_out_submit", "portal submit with Sec-GPC: 1 (CCPA: access + opt-out)", prep_opt_out_submit),
    Scenario("yearly_report", "yearly report, {n} requests this year", prep_yearly_report, sizes=(100, 1000),
             repeats={100: 3, 1000: 3}),
    Scenario("list_requests_expired", "list requests page (newest {n} expired)", prep_list_requests_behind_expired,
             sizes=(100,), repeats={100: 5}),
]
BY_KEY = {s.key: s for s in SCENARIOS}


# --- measuring ----------------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Measurement:
    name: str
    size: int
    calls: collections.Counter  # of the first run
    totals: list[int]  # total calls of every run (they should all be equal)
    times_ms: list[float]

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def stable(self) -> bool:
        return len(set(self.totals)) == 1

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times_ms)

    def service_total(self, service: str) -> int:
        return sum(v for k, v in self.calls.items() if k.startswith(service + "."))


def run_once(scenario: Scenario, size: int) -> tuple[collections.Counter, float]:
    with fresh_stack() as api:
        prepared = scenario.prepare(api, size)
        with counting() as calls:
            started = time.perf_counter()
            result = prepared.run()
            elapsed = (time.perf_counter() - started) * 1000
        prepared.check(result)
    return calls, elapsed


def measure(scenario: Scenario | str, size: int | None = None, repeats: int | None = None) -> Measurement:
    scenario = BY_KEY[scenario] if isinstance(scenario, str) else scenario
    size = scenario.sizes[0] if size is None else size
    runs = repeats or (scenario.repeats or {}).get(size, DEFAULT_REPEATS)
    first, totals, times = None, [], []
    for _ in range(runs):
        calls, elapsed = run_once(scenario, size)
        first = first if first is not None else calls
        totals.append(sum(calls.values()))
        times.append(elapsed)
    return Measurement(scenario.name(size), size, first, totals, times)


def warm_up() -> None:
    """One untimed pass (imports, template and schema compilation) so the first measured run isn't an outlier."""
    for key in ("create_dossier_consent", "upload_document", "stream_pending", "erasure", "access_export",
                "reminders", "list_requests"):
        run_once(BY_KEY[key], 1 if key in ("erasure", "access_export", "reminders") else BY_KEY[key].sizes[0])


# --- figures (issue 8): one `name: value` per line, comparable from run to run ---------------------------------------

# AWS-like latencies for the virtual clock that decides where a worker slice ends (moto's own speed would not).
LATENCY_S = {"dynamodb": 0.010, "s3": 0.030, "sqs": 0.010, "ses": 0.050}


@contextlib.contextmanager
def virtual_worker_clock():
    """The worker's clock advances by an AWS-like latency per call instead of moto's wall time, so the number
    of slices an erasure needs is what it would be on AWS, and the same on every machine."""
    from chalicelib import execution

    now = {"t": 0.0}
    real_time = execution.time
    with counting() as calls:

        class Clock:
            @staticmethod
            def monotonic():
                total = sum(LATENCY_S.get(key.split(".")[0], 0.01) * n for key, n in calls.items())
                return now["t"] + total

            def __getattr__(self, name):
                return getattr(execution.time, name)

        execution.time = Clock()
        try:
            yield calls
        finally:
            execution.time = real_time


def erase_figures(dossiers: int, documents_each: int, others: int = 0) -> tuple[int, int]:
    """(AWS calls, worker invocations) to erase one client with `dossiers` x `documents_each` among `others`
    other clients' dossiers, from the execute call to `completed`."""
    with fresh_stack() as api:
        team = api.new_team()
        seed_dossiers(team.id, "alice@client.example", dossiers, documents=documents_each)
        if others:
            seed_dossiers(team.id, "bob@client.example", others, documents=0)
        request_id = api.verified_request(team, "alice@client.example", "erasure")
        with virtual_worker_clock() as calls:
            answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/execute", {"confirm": True},
                              token=team.token)
            slices = api.work()
        assert answer.status_code == 202, answer.body
        view = api.request_view(team, request_id)
        assert view["status"] == "completed" and view["result"]["dossiers_deleted"] == dossiers, view
        return sum(calls.values()), len(slices)


def cold_start_ratio(runs: int = 7) -> float:
    """`import app` ÷ `import boto3`, whole process, median of `runs`, in a directory holding exactly the Lambda
    package that `chalice package` builds (its deployment.zip), not the dev venv."""
    import statistics
    import subprocess
    import tempfile
    import zipfile

    from devtools.stage_env import stage_environment

    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp) / "out"
        env = dict(os.environ, AWS_DEFAULT_REGION="eu-west-3")
        subprocess.run([str(pathlib.Path(sys.executable).parent / "chalice"), "package", "--stage", "dev", str(out)],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        package = pathlib.Path(tmp) / "package"
        with zipfile.ZipFile(out / "deployment.zip") as archive:
            archive.extractall(package)
        run_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(package), "PYTHONDONTWRITEBYTECODE": "1",
                   "AWS_DEFAULT_REGION": "eu-west-3", **stage_environment("dev"),
                   "TOKEN_SECRET": "bench-only-secret-bench-only-secret-0123456789"}

        def timed(statement: str) -> float:
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                subprocess.run([sys.executable, "-S", "-c", statement], cwd=package, env=run_env, check=True)
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        # No bytecode is written, as on Lambda's read-only file system: every run compiles like a cold start.
        return timed("import app") / timed("import boto3")


def figures() -> list[tuple[str, str]]:
    out = []
    calls, slices = erase_figures(10_000, 2)
    out += [("erase_10k_calls", str(calls)), ("erase_10k_slices", str(slices)),
            ("erase_10k_calls_per_25_dossiers", f"{calls / (10_000 / 25):.2f}")]
    small, _ = erase_figures(50, 1, others=1_000)
    large, _ = erase_figures(50, 1, others=20_000)
    out.append(("erase_table_size_ratio", f"{large / small:.2f}"))
    out.append(("portal_submit_calls", str(measure("portal_submit", repeats=1).total)))
    out.append(("notify_pending_calls", str(measure("stream_pending", repeats=1).total)))
    out.append(("deliver_attempt_calls", str(measure("deliver", repeats=1).total)))
    out.append(("callback_completing_calls", str(measure("callback", repeats=1).total)))
    out.append(("cold_start_ratio", f"{cold_start_ratio():.2f}"))
    return out


# --- reporting ----------------------------------------------------------------------------------------------------

def breakdown(calls: collections.Counter) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])))


def table(measurements: list[Measurement]) -> str:
    name_w = max(len("operation"), *(len(m.name) for m in measurements))
    wrap_w = 76
    lines = [f"{'operation':<{name_w}}  {'calls':>5}  {'breakdown (service.Operation=calls)':<{wrap_w}}  "
             f"{'median ms*':>10}  {'runs':>4}",
             f"{'-' * name_w}  {'-' * 5}  {'-' * wrap_w}  {'-' * 10}  {'-' * 4}"]
    for m in measurements:
        total = str(m.total) if m.stable else f"{m.total}~"
        parts = textwrap.wrap(breakdown(m.calls), wrap_w, break_on_hyphens=False) or [""]
        runs = f"{m.median_ms:10.1f}  {len(m.times_ms):>4}"
        lines.append(f"{m.name:<{name_w}}  {total:>5}  {parts[0]:<{wrap_w}}  {runs}")
        for rest in parts[1:]:
            lines.append(f"{'':<{name_w}}  {'':>5}  {rest}")
        if not m.stable:
            lines.append(f"{'':<{name_w}}  {'':>5}  (call totals differed between runs: {sorted(set(m.totals))})")
    return "\n".join(lines)


def erasure_scaling(measurements: list[Measurement]) -> str:
    rows = [m for m in measurements if m.name.startswith("execute erasure")]
    if not rows:
        return ""
    lines = ["", f"Erasure scaling (page = {PURGE_BATCH} dossiers; expected per page: 1 Query, 1 DeleteObjects, "
                 "1 BatchWriteItem, 1 progress UpdateItem; plus 1 final empty Query)",
             f"{'N':>5} {'pages':>5} {'Query':>6} {'BatchWrite':>10} {'DeleteObjects':>13} {'UpdateItem':>10} "
             f"{'dynamodb':>8} {'total':>6} {'calls/dossier':>13}  verdict"]
    for m in rows:
        pages = math.ceil(m.size / PURGE_BATCH)
        c = m.calls
        per_item = c["dynamodb.DeleteItem"] + c["s3.DeleteObject"]
        ok = (c["dynamodb.BatchWriteItem"] <= pages and c["s3.DeleteObjects"] <= pages
              and c["dynamodb.Query"] <= pages + 1 and per_item == 0)
        lines.append(f"{m.size:>5} {pages:>5} {c['dynamodb.Query']:>6} {c['dynamodb.BatchWriteItem']:>10} "
                     f"{c['s3.DeleteObjects']:>13} {c['dynamodb.UpdateItem']:>10} {m.service_total('dynamodb'):>8} "
                     f"{m.total:>6} {m.total / m.size:>13.2f}  {'O(N/25) as designed' if ok else 'UNEXPECTED'}")
    return "\n".join(lines)


def export_memory_figures() -> str:
    """Peak memory of one export build at 20 and 200 MiB of documents (devtools/export_memory.py: a moto server
    in another process, so only the export's own allocations count). The goal is a ratio ≤ 1.2: flat."""
    from devtools import export_memory

    peaks = {}
    for mib in (20, 200):
        figures = export_memory.measure(mib)
        if not figures["documents_identical"]:
            raise SystemExit(f"the {mib} MiB export's documents differ from their sources")
        peaks[mib] = figures["peak_mib"]
    lines = ["", "Export memory (peak of exports.build, tracemalloc, MiB; goal: ratio <= 1.2)",
             f"export_peak_mib_20: {peaks[20]}",
             f"export_peak_mib_200: {peaks[200]}",
             f"export_memory_ratio: {peaks[200] / peaks[20]:.2f}"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="each operation once, at its smallest size")
    parser.add_argument("--repeats", type=int, help="runs per operation (default: per operation, 3 to 7)")
    parser.add_argument("--only", help="only operations whose key contains this text (e.g. erasure)")
    args = parser.parse_args(argv)

    configure_environment()
    import logging

    logging.disable(logging.CRITICAL)  # the product logs each email sent; the table is the output
    started = time.perf_counter()
    scenarios = [s for s in SCENARIOS if not args.only or args.only in s.key]
    if scenarios and not args.quick:
        warm_up()
    measurements = []
    for scenario in scenarios:
        for size in (scenario.sizes[:1] if args.quick else scenario.sizes):
            measurements.append(measure(scenario, size, 1 if args.quick else args.repeats))
            if sys.stderr.isatty():  # progress for a person watching; `make bench | tee` gets the table only
                print(f"  measured {measurements[-1].name}", file=sys.stderr, flush=True)

    print("privacy-desk bench: AWS calls per operation (stable) and wall-clock time (noisy)")
    print("Each run: fresh in-process moto, app through chalice.test.Client; only the operation is counted.\n")
    if measurements:
        print(table(measurements))
        print(erasure_scaling(measurements))
    if not args.only or args.only in "export_memory":
        print(export_memory_figures())
    print("\n* median ms: wall clock of the operation alone, median of the row's runs, on in-process moto on "
          "this machine. NOISY:")
    print("  includes moto's simulation cost, not AWS latency; compare rows relative to each other, never assert.")
    print("  'calls' is the stable figure ('~' would mark a total that varied between runs).")
    if not args.quick and not args.only:
        print("\nFigures (issue 8):")
        for name, value in figures():
            print(f"{name}: {value}", flush=True)
    print(f"\nbench took {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
