"""`make fuzz`: schemathesis against the API that `make run` serves, held to openapi.yaml.

1. Starts `python -m devtools.run_local` (moto server, `chalice local`, stream worker) on free ports and waits
   for its `api:`, `team_id:` and `admin_token:` lines.
2. Seeds real data through the API (a member, dossiers with a document, portal requests verified through the
   links of their emails, an executed access request), so generated cases reach past 401/404: the demo team's
   id stands for every {team_id}, seeded ids for most {dossier_id}, {request_id}, {member_id}, and the emailed
   tokens for most of the link routes' tokens.
3. Runs schemathesis (CLI, config written to a temporary schemathesis.toml) with the admin's bearer token and
   the checks not_a_server_error, response_schema_conformance, status_code_conformance and
   response_headers_conformance, until at least FUZZ_CASES cases (default 1000) were generated over every route.
4. Stops the stack and prints the case count and "0 server errors" — or the failures, with the stack's log.

    FUZZ_CASES=5000 make fuzz       # more cases
    FUZZ_SEED=123 make fuzz         # replay a run's generation
    make fuzz-short                 # ~150 cases (FUZZ_SHORT_CASES), fuzzing phase only (what `make test` runs)
    FUZZ_SPEC=/tmp/x.yaml make fuzz # another spec (e.g. a deliberately wrong one, to see the checks bite)
    FUZZ_KEEP=1 make fuzz           # keep the reports, config and stack log (always kept when a check fails)

Exit status: 0 when no check failed, 1 otherwise.

When schemathesis imports this module as its hooks module (SCHEMATHESIS_HOOKS=devtools.fuzz), it registers a
text/html deserializer so the HTML pages' responses are checked against the spec too.
"""
import json
import math
import os
import pathlib
import queue
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = pathlib.Path(os.environ.get("FUZZ_SPEC") or ROOT / "openapi.yaml").resolve()
CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance,response_headers_conformance"
# `chalice local` runs on http.server, which answers 501 to methods it has no handler for (TRACE, QUERY); API
# Gateway answers those itself. Schemathesis's coverage phase still sends every other unexpected method.
UNEXPECTED_METHODS = ["GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH"]
SHORT_CASES = 150
EDGE_DATES = ["0001-01-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31",
              "2026-02-29", "2024-02-29T24:00:00Z"]


def _register_hooks() -> None:
    import schemathesis

    @schemathesis.deserializer("text/html")
    def html(ctx, response):  # noqa: ARG001 — the page must at least be UTF-8 text
        return response.content.decode("utf-8")


HOOKS_MODULE = "devtools.fuzz"
if __name__ == HOOKS_MODULE and os.environ.get("SCHEMATHESIS_HOOKS") == HOOKS_MODULE:
    _register_hooks()


# --- the stack --------------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    """`python -m devtools.run_local` in the background; its stderr goes to a log file."""

    def __init__(self, workdir: pathlib.Path):
        self.log_path = workdir / "stack.log"
        self.process = None
        self.aws = None
        self.lines: queue.Queue = queue.Queue()

    def start(self, timeout: float = 180) -> dict:
        self.moto_port = free_port()
        env = dict(os.environ, API_PORT=str(free_port()), MOTO_PORT=str(self.moto_port), PYTHONUNBUFFERED="1")
        self.aws = f"http://127.0.0.1:{self.moto_port}"  # the embedded moto, for checks that read AWS state
        os.environ["FUZZ_MOTO_ENDPOINT"] = self.aws  # for bearer_for()
        with open(self.log_path, "w") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen([sys.executable, "-u", "-m", "devtools.run_local"], cwd=ROOT, env=env,
                                            stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        found: dict = {}
        deadline = time.time() + timeout
        while not {"api", "team_id", "admin_token"} <= set(found):
            if self.process.poll() is not None:
                raise SystemExit(f"fuzz: the stack exited with {self.process.returncode}\n{self.log_tail()}")
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.time()))
            except queue.Empty:
                raise SystemExit(f"fuzz: the stack printed no api/team_id/admin_token within {timeout}s\n"
                                 f"{self.log_tail()}") from None
            name, sep, value = line.partition(": ")
            if sep and name in ("api", "team_id", "admin_token"):
                found[name] = value.strip()
        return found

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def stop(self) -> None:
        """SIGTERM makes run_local stop `chalice local` (its own process group) and moto; SIGKILL if it hangs."""
        if self.process is None or self.process.poll() is not None:
            return
        children = _children(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for pid in children:  # chalice local, if run_local could not stop it
            try:
                os.killpg(pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass

    def log_tail(self, lines: int = 80) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _children(pid: int) -> list[int]:
    found = []
    for task in pathlib.Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(p) for p in task.read_text().split()]
        except OSError:
            pass
    return found


# --- seeding real data through the API --------------------------------------------------------------------------

class Api:
    def __init__(self, base: str, token: str):
        self.base, self.token = base.rstrip("/"), token

    def call(self, method: str, path: str, body=None, auth: bool = True, expect=(200, 201, 202)):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        if status not in expect:
            raise SystemExit(f"fuzz: seeding failed: {method} {path} answered {status}: {raw[:500]!r}")
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode("utf-8", "replace")

    def outbox(self) -> list[dict]:
        return self.call("GET", "/_dev/outbox", auth=False)["messages"]


LINKS = {
    "verify": re.compile(r"/portal/privacy/verify/([A-Za-z0-9_.-]+)"),
    "status": re.compile(r"/portal/privacy/requests/[A-Za-z0-9_]+\?token=([A-Za-z0-9_.-]+)"),
    "action": re.compile(r"/actions/([A-Za-z0-9_.-]+)"),
    "export": re.compile(r"/portal/privacy/exports/([A-Za-z0-9_.-]+)"),
}


def wait_for_links(api: Api, kind: str, count: int, timeout: float = 60) -> list[str]:
    deadline = time.time() + timeout
    while True:
        found = []
        for message in api.outbox():
            for token in LINKS[kind].findall(message["text"] + message["html"]):
                if token not in found:
                    found.append(token)
        if len(found) >= count or time.time() > deadline:
            if len(found) < count:
                print(f"fuzz: warning: expected {count} {kind} link(s) in the outbox, found {len(found)}",
                      file=sys.stderr)
            return found
        time.sleep(0.5)


def bearer_for(team: str, member_id: str) -> str:
    """A bearer token for a member of the stack's team, read from its embedded AWS (tokens carry the member's
    generation) and signed with the local stage's secret (the one `make run` uses)."""
    sys.path.insert(0, str(ROOT))
    from devtools.mint_token import local_token

    return local_token(team, member_id, os.environ["FUZZ_MOTO_ENDPOINT"])


def seed(api: Api, team: str) -> dict[str, list[str]]:
    member_id = "m_fuzz_member"
    api.call("PUT", f"/teams/{team}/members/{member_id}",
             {"email": "member@fuzz.example", "name": "Fuzz Member", "role": "member"})
    # Seeded executions run as a second admin: `executed_by` shows its id, never the id of the admin whose token
    # the fuzzer holds (which the fuzzer could otherwise demote or remove, leaving every later case at 403).
    api.call("PUT", f"/teams/{team}/members/m_fuzz_second_admin",
             {"email": "second-admin@fuzz.example", "name": "Second Admin", "role": "admin"})
    second = Api(api.base, bearer_for(team, "m_fuzz_second_admin"))
    dossiers = []
    for email in ("access@fuzz.example", "restriction@fuzz.example", "erasure@fuzz.example"):
        dossier = api.call("POST", f"/teams/{team}/dossiers",
                           {"client_email": email, "title": f"File of {email}", "fields": {"name": "Client"}})
        api.call("POST", f"/teams/{team}/dossiers/{dossier['dossier_id']}/documents",
                 {"filename": "id.pdf", "content_base64": "JVBERi0xLjQgZnV6eg=="})
        dossiers.append(dossier["dossier_id"])
    requests = {}
    for request_type in ("access", "restriction", "erasure", "rectification", "objection"):
        email = f"{request_type}@fuzz.example"
        requests[request_type] = api.call("POST", f"/portal/{team}/privacy/requests",
                                          {"email": email, "type": request_type}, auth=False)["request_id"]
    unverified = api.call("POST", f"/portal/{team}/privacy/requests",
                          {"email": "unverified@fuzz.example", "type": "erasure"}, auth=False)["request_id"]
    verify_tokens = wait_for_links(api, "verify", 6)
    # Verify all but the last submission's link (the outbox is oldest first).
    for token in verify_tokens[:5]:
        api.call("GET", f"/portal/privacy/verify/{token}", auth=False)
    status_tokens = wait_for_links(api, "status", 5)
    action_tokens = wait_for_links(api, "action", 5)
    for request_type in ("access", "restriction"):
        second.call("POST", f"/teams/{team}/privacy/requests/{requests[request_type]}/execute", {"confirm": True})
    export_tokens = wait_for_links(api, "export", 1)
    return {
        "team": [team],
        "dossiers": dossiers,
        "requests": list(requests.values()) + [unverified],
        "members": [member_id],
        "verify_tokens": verify_tokens,
        "status_tokens": status_tokens,
        "action_tokens": action_tokens,
        "export_tokens": export_tokens,
    }


# --- schemathesis -----------------------------------------------------------------------------------------------

def _toml(value) -> str:
    return json.dumps(value)  # a JSON string or array of strings is valid TOML


def write_config(path: pathlib.Path, base_url: str, token: str, seeds: dict[str, list[str]]) -> None:
    lines = [
        f"base-url = {_toml(base_url)}",
        f"headers = {{ Authorization = {_toml('Bearer ' + token)} }}",
        "",
        "[phases.coverage]",
        f"unexpected-methods = {_toml(UNEXPECTED_METHODS)}",
        "",
    ]
    for name, values in seeds.items():
        if values and name != "team":
            lines += [f"[dictionaries.{name}]", f"values = {_toml(values)}", ""]
    # Dates at the calendar's edges, where converting an offset to UTC overflows (a 500 the fuzzer once found).
    lines += ["[dictionaries.edge_dates]", f"values = {_toml(EDGE_DATES)}", ""]
    bindings = {"path.dossier_id": ("dossiers", 0.7),
                "path.request_id": ("requests", 0.7), "path.member_id": ("members", 0.5),
                "query.token": ("status_tokens", 0.7), "query.due_before": ("edge_dates", 0.3)}
    lines.append("[parameters]")
    # Always the demo team: a drawn team id only ever meets 403 (another team) or 404, which the auth tests cover,
    # and drawn values crowd out the dictionary's (Hypothesis favours short strings like "0").
    lines.append(f"{_toml('path.team_id')} = {_toml(seeds['team'][0])}")
    for key, (name, probability) in bindings.items():
        if seeds.get(name) or name == "edge_dates":
            lines.append(f"{_toml(key)} = {{ dictionary = {_toml(name)}, probability = {probability} }}")
    lines.append("")
    for route, name in (("/portal/privacy/verify/{token}", "verify_tokens"), ("/actions/{token}", "action_tokens"),
                        ("/portal/privacy/exports/{token}", "export_tokens")):
        if seeds.get(name):
            lines += ["[[operations]]", f"include-path = {_toml(route)}",
                      f"parameters = {{ \"path.token\" = {{ dictionary = {_toml(name)}, probability = 0.6 }} }}",
                      ""]
    path.write_text("\n".join(lines))


def run_schemathesis(config: pathlib.Path, workdir: pathlib.Path, round_no: int, max_examples: int, phases: str,
                     seed: int) -> tuple[dict, str]:
    report = workdir / f"report-{round_no}.json"
    command = [str(pathlib.Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
               str(SPEC), "--checks", CHECKS, "--max-examples", str(max_examples), "--phases", phases,
               "--seed", str(seed), "--workers", "1", "--report", "json", "--report-json-path", str(report),
               "--no-color", "--generation-database", "none", "--max-failures", "50"]
    env = dict(os.environ, SCHEMATHESIS_HOOKS=HOOKS_MODULE, PYTHONPATH=str(ROOT))
    done = subprocess.run(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    if not report.exists():
        raise SystemExit(f"fuzz: schemathesis wrote no report (exit {done.returncode}):\n{done.stdout[-5000:]}")
    return json.loads(report.read_text()), done.stdout


def main(argv: list[str]) -> int:
    short = "--short" in argv
    target = int((os.environ.get("FUZZ_SHORT_CASES") or SHORT_CASES) if short else
                 (os.environ.get("FUZZ_CASES") or 1000))
    seed_value = int(os.environ.get("FUZZ_SEED") or random.randrange(1, 2**31))
    import yaml

    operations = sum(len(ops) for ops in yaml.safe_load(SPEC.read_text())["paths"].values())
    started = time.time()
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="privacy-desk-fuzz-"))
    stack = Stack(workdir)
    reports, outputs, total = [], [], 0
    try:
        found = stack.start()
        api = Api(found["api"], found["admin_token"])
        seeds = seed(api, found["team_id"])
        config = workdir / "schemathesis.toml"
        write_config(config, found["api"], found["admin_token"], seeds)
        print(f"fuzz: stack at {found['api']}, team {found['team_id']}, seeded "
              f"{len(seeds['dossiers'])} dossiers and {len(seeds['requests'])} requests; target {target} "
              f"cases over {operations} operations, seed {seed_value}", flush=True)
        round_no = 0
        while total < target:
            round_no += 1
            # The first round of a full run has every phase (coverage: boundary and negative values, unexpected
            # methods); further rounds, and the short pass, only fuzz — with another seed — until the target.
            phases = "fuzzing" if short or round_no > 1 else "examples,coverage,fuzzing,stateful"
            per_operation = max(1, math.ceil((target - total) / operations))
            report, output = run_schemathesis(config, workdir, round_no, per_operation, phases,
                                              seed_value + round_no - 1)
            reports.append(report)
            outputs.append(output)
            generated = report["test_cases"]["generated"]
            total += generated
            print(f"fuzz: round {round_no} ({phases}): {generated} cases, "
                  f"{report['test_cases']['with_failures']} with failures", flush=True)
            if report["failures"] or report["errors"] or generated == 0 or round_no >= 20:
                break
    finally:
        stack.stop()
    status = summarize(reports, outputs, total, operations, time.time() - started, stack)
    if status == 0 and not os.environ.get("FUZZ_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print(f"fuzz: reports, config and the stack's log are in {workdir}")
    return status


def summarize(reports: list[dict], outputs: list[str], total: int, operations: int, seconds: float,
              stack: Stack) -> int:
    failures = [f for r in reports for f in r["failures"]]
    errors = [e for r in reports for e in r["errors"]]
    server_errors = sum(f["count"] for f in failures if f.get("code") == "ST101" or f["type"] == "ServerError")
    other = sum(f["count"] for f in failures) - server_errors
    tested = max((r["operations"]["tested"] for r in reports), default=0)
    if failures or errors:
        for output in outputs:
            print(output)
        print("--- stack log (tail) ---")
        print(stack.log_tail(120))
    print(f"fuzz: {total} cases over {tested}/{operations} operations in {seconds:.0f}s")
    print(f"fuzz: {server_errors} server errors, {other} responses that break the spec, {len(errors)} errors")
    for failure in failures:
        print(f"  {failure.get('code')} {failure['title']} x{failure['count']}: {', '.join(failure['operations'])}")
    for error in errors:
        print(f"  error: {json.dumps(error)[:500]}")
    return 1 if failures or errors or tested < operations else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
