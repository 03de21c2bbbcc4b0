"""`make run` for real: the local stack as a subprocess, the README's story over HTTP.

Unlike test_story.py (chalice.test.Client, in-process moto), this starts `python -m devtools.run_local` — the
moto server, `chalice local` and the stream worker — on free ports, and drives it with urllib exactly as a
person following the README does with curl, emails included (GET /_dev/outbox).
"""
import json
import os
import pathlib
import queue
import re
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
STARTUP_SECONDS = 60
MAIL_SECONDS = 20
STOP_GRACE_SECONDS = 15


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def clean_environment(api_port: int, moto_port: int) -> dict:
    """The caller's environment without what conftest.py set for in-process moto (fake stream ARN, AWS_*,
    the stage's variables): run_local must build its own, as it does for a person typing `make run`."""
    stage = json.loads((ROOT / ".chalice" / "config.json").read_text())
    ours = set(stage["environment_variables"]) | set(stage["stages"]["local"]["environment_variables"])
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k not in ours and k != "REQUESTS_STREAM_ARN"}
    env.update(API_PORT=str(api_port), MOTO_PORT=str(moto_port), PYTHONUNBUFFERED="1")
    env.pop("AUTORELOAD", None)
    return env


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (chalice local runs in its own session, so a group signal misses it)."""
    children: dict[int, list[int]] = {}
    for entry in pathlib.Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class LocalStack:
    def __init__(self):
        self.api_port, self.moto_port = free_port(), free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="run_local-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [python(), "-u", "-m", "devtools.run_local"], cwd=ROOT, env=clean_environment(self.api_port, self.moto_port),
            stdout=subprocess.PIPE, stderr=self.log, text=True, start_new_session=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        self.api = self.team_id = self.admin_token = None

    def _pump_stdout(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def log_tail(self, chars: int = 4000) -> str:
        self.log.flush()
        return pathlib.Path(self.log.name).read_text(errors="replace")[-chars:]

    def wait_ready(self) -> None:
        printed = {}
        deadline = time.monotonic() + STARTUP_SECONDS
        while not {"api", "team_id", "admin_token"} <= printed.keys():
            if self.process.poll() is not None:
                raise AssertionError(f"run_local exited with {self.process.returncode}:\n{self.log_tail()}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"run_local printed {sorted(printed)} in {STARTUP_SECONDS}s:\n{self.log_tail()}")
            try:
                line = self.lines.get(timeout=min(left, 1))
            except queue.Empty:
                continue
            name, sep, value = line.partition(": ")
            if sep and name in ("api", "team_id", "admin_token"):
                printed[name] = value.strip()
        self.api, self.team_id, self.admin_token = printed["api"], printed["team_id"], printed["admin_token"]
        assert self.api == f"http://127.0.0.1:{self.api_port}"

    def stop(self) -> None:
        """SIGINT to the process group (Ctrl-C), then SIGKILL whatever is left, chalice local included."""
        below = descendants(self.process.pid)
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGINT)
                self.process.wait(timeout=STOP_GRACE_SECONDS)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait(timeout=STOP_GRACE_SECONDS)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for pid in below:  # run_local's own Ctrl-C handler stops chalice; this is the safety net
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.log.close()


def _alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Http:
    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path_or_url: str, body=None, token: str | None = None, form: bool = False):
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        headers = {}
        data = None
        if form:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            data = b""
        elif body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                return answer.status, _decode(answer)
        except urllib.error.HTTPError as error:
            return error.code, _decode(error)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    # --- the local outbox ---------------------------------------------------------------------------------
    def outbox(self) -> list[dict]:
        status, body = self.get("/_dev/outbox")
        assert status == 200, body
        return body["messages"]

    def wait_for_mail(self, to: str, matches, what: str) -> dict:
        """The newest email to `to` for which matches(message) holds, waiting for the stream worker."""
        deadline = time.monotonic() + MAIL_SECONDS
        while True:
            found = [m for m in self.outbox() if to in m["to"] and matches(m)]
            if found:
                return found[-1]
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} to {to} within {MAIL_SECONDS}s; outbox: "
                                     f"{[(m['to'], m['subject']) for m in self.outbox()]}")
            time.sleep(0.3)


def _decode(answer):
    raw = answer.read().decode()
    if "json" in (answer.headers.get("Content-Type") or ""):
        return json.loads(raw)
    return raw


def link(message: dict, marker: str) -> str | None:
    found = re.findall(r"https?://\S+", message["text"])
    links = [url for url in found if marker in url]
    return links[-1] if links else None




def test_make_run_serves_the_readme_story(stack):
    http = Http(stack.api)
    team, admin = stack.team_id, stack.admin_token
    client = "alice@client.example"

    # The team admin adds the officer and turns consent capture on.
    status, officer = http.put(f"/teams/{team}/members/dpo",
                               {"email": "dpo@demo.example", "name": "Dana Officer", "role": "member"}, token=admin)
    assert status == 201, officer
    status, settings = http.patch(f"/teams/{team}/privacy/settings", {
        "consent_capture_enabled": True, "consent_text": "I agree that Demo team keeps my documents.",
        "privacy_officer_id": "dpo"}, token=admin)
    assert status == 200, settings
    assert settings["consent_version"] == 1 and settings["privacy_officer_id"] == "dpo"

    # Dossiers: the requester's (with a document) and another client's, which must survive.
    status, kept = http.post(f"/teams/{team}/dossiers", {"client_email": "bob@client.example", "title": "Bob",
                                                         "consent": {"accepted": True}}, token=admin)
    assert status == 201, kept
    status, dossier = http.post(f"/teams/{team}/dossiers", {
        "client_email": "Alice@Client.example", "title": "Alice Martin", "fields": {"phone": "+33 6 12 34 56 78"},
        "consent": {"accepted": True}}, token=admin)
    assert status == 201, dossier
    assert dossier["client_email"] == client and dossier["consent"]["version"] == 1
    status, document = http.post(f"/teams/{team}/dossiers/{dossier['dossier_id']}/documents",
                                 {"filename": "passport.pdf", "content_base64": "JVBERi0xLjQgZGVtbw=="}, token=admin)
    assert status == 201, document

    # The client portal, then the request — submitted twice (a double click): one request, emails keep flowing.
    status, portal = http.get(f"/portal/{team}/privacy")
    assert status == 200, portal
    assert portal["consent"]["required"] is True and "erasure" in portal["request_types"]
    status, submitted = http.post(f"/portal/{team}/privacy/requests", {"email": client, "type": "erasure"})
    assert status == 202, submitted
    assert submitted["status"] == "awaiting_verification"
    request_id = submitted["request_id"]
    status, again = http.post(f"/portal/{team}/privacy/requests", {"email": client, "type": "erasure"})
    # The same receipt, never the existing request's id: the portal tells nobody what exists.
    assert status == 202 and again["status"] == "awaiting_verification" and again["request_id"] != request_id, again

    verification = http.wait_for_mail(client, lambda m: link(m, "/portal/privacy/verify/"), "verification email")
    assert not [m for m in http.outbox() if "dpo@demo.example" in m["to"]], "an unverified request reached the officer"
    status, page = http.get(link(verification, "/portal/privacy/verify/"))
    assert status == 200, page

    # The officer's email: the request, the due date, the matching dossiers, the reminder, an action link.
    officer_mail = http.wait_for_mail("dpo@demo.example", lambda m: link(m, "/actions/"), "officer email")
    assert client in officer_mail["text"]
    assert "other application" in officer_mail["text"]
    action = link(officer_mail, "/actions/")

    status, page = http.get(action)  # mail scanners open links: GET changes nothing
    assert status == 200 and "<form" in page, page
    status, pending = http.get(f"/teams/{team}/privacy/requests/{request_id}", token=admin)
    assert status == 200 and pending["status"] == "pending", pending

    status, page = http.post(action, form=True)  # the page's "Confirm and execute" button
    assert status == 202 and "being carried out" in page, page  # claimed; the worker does the work
    status, page = http.post(action, form=True)
    assert status == 409, page

    # The client is told, once the stream worker has seen the request complete.
    notice = http.wait_for_mail(client, lambda m: "deleted" in m["subject"].lower(), "deletion notice")
    assert request_id in notice["text"]

    status, done = http.get(f"/teams/{team}/privacy/requests/{request_id}", token=admin)
    assert status == 200, done
    assert done["status"] == "completed"
    assert done["result"]["dossiers_deleted"] == 1 and done["result"]["documents_deleted"] == 1
    status, listed = http.get(f"/teams/{team}/privacy/requests?status=completed", token=admin)
    assert status == 200 and [r["request_id"] for r in listed["items"]] == [request_id], listed
    assert http.get(f"/teams/{team}/dossiers/{dossier['dossier_id']}", token=admin)[0] == 404
    assert http.get(f"/teams/{team}/dossiers/{kept['dossier_id']}", token=admin)[0] == 200
    status, left = http.get(f"/teams/{team}/dossiers?client_email={client}", token=admin)
    assert status == 200 and left == {"items": [], "next": None}, left


def translated(locale: str, message: str) -> str:
    import gettext

    from chalicelib import templating

    return gettext.translation("messages", templating.CATALOGS, languages=[locale]).gettext(message)


def post_with_language(base: str, path: str, body: dict, accept_language: str):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Accept-Language": accept_language})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return answer.status, json.load(answer)


def test_a_german_team_writes_german_and_a_spanish_browser_reads_spanish(stack):
    """Issue 11's done-when: a team whose default is de sends German verification, receipt and officer emails;
    a request submitted with Accept-Language: es gets Spanish client emails and pages, the officer's stay German."""
    from chalicelib import templating

    if not {"de", "es"} <= set(templating.LOCALES):
        raise AssertionError(f"German and Spanish catalogs are expected, found {templating.LOCALES}")
    http, team, admin = Http(stack.api), stack.team_id, stack.admin_token
    assert http.patch(f"/teams/{team}/privacy/settings", {"locale": "de"}, token=admin)[0] == 200
    try:
        hello = {lang: translated(lang, "Hello,") for lang in ("de", "es")}
        assert hello["de"] != hello["es"] != "Hello,"

        german = "gerda@client.example"
        assert http.post(f"/portal/{team}/privacy/requests", {"email": german, "type": "access"})[0] == 202
        verification = http.wait_for_mail(german, lambda m: link(m, "/portal/privacy/verify/"), "German verification")
        assert hello["de"] in verification["text"]
        assert http.get(link(verification, "/portal/privacy/verify/"))[0] == 200
        receipt = http.wait_for_mail(german, lambda m: "/portal/privacy/requests/" in m["text"], "German receipt")
        assert hello["de"] in receipt["text"]

        spanish = "sofia@client.example"
        status, _ = post_with_language(stack.api, f"/portal/{team}/privacy/requests",
                                       {"email": spanish, "type": "access"}, "es-ES,es;q=0.9,en;q=0.5")
        assert status == 202
        verification = http.wait_for_mail(spanish, lambda m: link(m, "/portal/privacy/verify/"), "Spanish verification")
        assert hello["es"] in verification["text"]
        status, page = http.get(link(verification, "/portal/privacy/verify/"))
        assert status == 200 and 'lang="es"' in page, page
        receipt = http.wait_for_mail(spanish, lambda m: "/portal/privacy/requests/" in m["text"], "Spanish receipt")
        assert hello["es"] in receipt["text"]

        officer_hello = translated("de", "Hello %(officer_name)s,") % {"officer_name": ""}
        officer_id = http.get(f"/teams/{team}/privacy/settings", token=admin)[1]["privacy_officer_id"]
        officer_address = "dpo@demo.example" if officer_id == "dpo" else "admin@demo.example"
        for client in (german, spanish):
            officer = http.wait_for_mail(officer_address, lambda m, c=client: c in m["text"], "officer email")
            assert officer_hello.strip(" ,") in officer["text"], officer["text"]
    finally:
        http.patch(f"/teams/{team}/privacy/settings", {"locale": "en"}, token=admin)
