"""`make run`: the whole stack on this machine — embedded AWS (moto server), the API (`chalice local`, stage
`local`) and a stream worker that feeds the requests table's stream to the app's real stream handler.

Ctrl-C stops all of it. Ports: API_PORT (default 8000), MOTO_PORT (default 5555).
The API doesn't reload on code changes (the stream worker couldn't follow): restart `make run` after editing, or
set AUTORELOAD=1 to reload the HTTP side only.
"""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
OIDC_VARIABLES = ("OIDC_ISSUER", "OIDC_AUDIENCE", "OIDC_JWKS_URL", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET",
                  "OIDC_PROVIDER_NAME")


def local_environment(moto_port: int) -> dict:
    from devtools.stage_env import stage_environment

    env = stage_environment("local")
    env.update({
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_port}",
    })
    # Sign-in with a real provider locally: `OIDC_ISSUER=... OIDC_AUDIENCE=... make run` (the API's tokens),
    # and OIDC_CLIENT_ID=... too for the console's "Sign in with ...".
    env.update({name: os.environ[name] for name in OIDC_VARIABLES if os.environ.get(name)})
    return env


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {seconds}s")


def main() -> None:
    api_port = int(os.environ.get("API_PORT", "8000"))
    moto_port = int(os.environ.get("MOTO_PORT", "5555"))
    os.environ.update(local_environment(moto_port))
    os.environ["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{api_port}"
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)

    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log would drown the API's

    sys.path.insert(0, str(ROOT))
    from devtools import iam
    from devtools.stack import keep_streams_across_failed_transactions

    iam.install()  # before any client: each of the stack's processes signs as its function (devtools/iam.py)

    keep_streams_across_failed_transactions()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    sys.path.insert(0, str(ROOT))
    from devtools import stack

    os.environ["REQUESTS_STREAM_ARN"] = stack.provision()
    demo = stack.seed_demo_team()
    # From here on moto enforces IAM: each function holds only its role's statements from the template.
    os.environ[iam.KEYS_VARIABLE] = json.dumps(iam.enforce(os.environ["REQUESTS_STREAM_ARN"]))

    reload_flag = "--autoreload" if os.environ.get("AUTORELOAD") == "1" else "--no-autoreload"
    chalice = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "chalice"), "local", "--stage", "local", "--host", "127.0.0.1",
         "--port", str(api_port), reload_flag],
        cwd=ROOT, env={**os.environ, iam.DEFAULT_VARIABLE: "api_handler"}, stdout=sys.stderr, stderr=sys.stderr,
        start_new_session=True)

    def stop(*_):
        if chalice.poll() is None:
            os.killpg(chalice.pid, signal.SIGTERM)
        for worker in WORKERS:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
        moto.stop()
        raise SystemExit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    wait_for(f"http://127.0.0.1:{api_port}/portal/none/privacy")
    print(f"api: http://127.0.0.1:{api_port}", flush=True)
    print(f"team_id: {demo['team_id']}", flush=True)
    print(f"admin_token: {demo['admin_token']}", flush=True)
    print(f"aws: http://127.0.0.1:{moto_port} (moto server)", file=sys.stderr, flush=True)
    run_worker(chalice)


WORKERS: list = []  # the execution worker processes started, so stopping the stack stops them too


def start_execution_worker() -> subprocess.Popen:
    """The execution worker in a process of its own (devtools/executions.py), so it can die as a Lambda does
    without taking the stack down; prints its pid for whoever wants to kill it."""
    from devtools import iam

    worker = subprocess.Popen([sys.executable, "-u", "-m", "devtools.executions"], cwd=ROOT,
                              env={**os.environ, iam.DEFAULT_VARIABLE: "execution_worker"},
                              stdout=sys.stderr, stderr=sys.stderr, start_new_session=True)
    WORKERS.append(worker)
    print(f"worker_pid: {worker.pid}", flush=True)
    return worker


def run_worker(chalice) -> None:
    """Poll the stream like Lambda's event source mapping: a batch that fails is retried until it passes.
    Keep the execution worker process alive (restarted if it dies, as Lambda starts a new container), and run
    the housekeeping (watchdog, sweep, pseudonymisation) every few seconds."""
    from app import app, on_request_change  # noqa: F401 — the handler as deployed
    from devtools import iam, stack

    from chalicelib import housekeeping

    iam.wrap_entry_points()  # housekeeping runs as housekeeping_run, the stream handler as on_request_change
    reader = stack.StreamReader(os.environ["REQUESTS_STREAM_ARN"])
    pending: list[dict] = []
    delay = 0.3
    next_chores = time.time() + 5
    worker = start_execution_worker()
    while chalice.poll() is None:
        if worker.poll() is not None:
            print(f"execution worker exited ({worker.returncode}); starting another", file=sys.stderr, flush=True)
            worker = start_execution_worker()
        if time.time() >= next_chores:  # deployed, every 5 minutes; locally every 5 s, so a test sees recovery
            next_chores = time.time() + 5
            try:
                housekeeping.run()
            except Exception as exc:  # noqa: BLE001 — the next round retries
                print(f"housekeeping failed, will retry: {exc}", file=sys.stderr, flush=True)
        if not pending:
            with iam.running("on_request_change"):  # the event source mapping reads with the function's role
                pending = reader.read()
        if pending:
            try:
                on_request_change({"Records": pending}, None)
                pending, delay = [], 0.3
            except Exception as exc:  # noqa: BLE001 — keep the batch and retry, like Lambda
                print(f"stream worker: batch failed, retrying: {exc}", file=sys.stderr, flush=True)
                delay = min(delay * 2, 5)
        time.sleep(delay)
    raise SystemExit(f"chalice local exited with {chalice.returncode}")


if __name__ == "__main__":
    main()
