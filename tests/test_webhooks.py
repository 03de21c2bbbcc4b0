"""The webhook client: which URLs may be called, how events are signed, and a POST that can't be held, redirected
or pointed at the module's own network."""
import datetime as dt
import http.server
import json
import socket
import threading
import time
import types

import pytest
from standardwebhooks import Webhook

from chalicelib import clock, webhooks
from chalicelib.errors import BadRequest

PUBLIC_IP = "93.184.216.34"
# What the fake resolver answers; anything else does not resolve.
DNS = {
    "hooks.example.com": [PUBLIC_IP],
    "private.example.com": ["192.168.1.10"],
    "mixed.example.com": [PUBLIC_IP, "10.1.2.3"],
    "v6private.example.com": ["fc00::1"],
}


@pytest.fixture
def dns(monkeypatch):
    """socket.getaddrinfo answering from DNS (mutable by the test); counts its calls."""
    table = {name: list(addresses) for name, addresses in DNS.items()}
    calls = []

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in table[host]]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return types.SimpleNamespace(table=table, calls=calls)


@pytest.fixture
def deployed(monkeypatch):
    """The rules of a deployed stage, in the local one."""
    monkeypatch.setenv("WEBHOOKS_PUBLIC_ONLY", "1")


# --- check_url ---------------------------------------------------------------------------------------------

REFUSED = [
    ("http://hooks.example.com/privacy", "https"),
    ("https://user:secret@hooks.example.com/privacy", "credentials"),
    ("https://hooks.example.com/privacy#section", "fragment"),
    ("https://hooks.example.com/" + "a" * 2000, "2000"),
    ("https://10.0.0.1/privacy", "private"),
    ("https://127.0.0.1/privacy", "loopback"),
    ("http://127.0.0.1:8080/privacy", "https"),
    ("https://169.254.169.254/latest/meta-data/", "metadata"),
    ("https://[::1]/privacy", "loopback"),
    ("https://[fd00:ec2::254]/privacy", "metadata"),
    ("https://100.64.0.1/privacy", "CGNAT"),
    ("https://0.0.0.0/privacy", "unspecified"),
    ("https://224.0.0.1/privacy", "multicast"),
    ("https://[::ffff:127.0.0.1]/privacy", "127.0.0.1"),
    ("https://2130706433/privacy", "non-standard"),
    ("https://0x7f.1/privacy", "non-standard"),
    ("https://localhost/privacy", "local or internal"),
    ("https://localhost./privacy", "local or internal"),
    ("https://metadata.google.internal/computeMetadata/v1/", "local or internal"),
    ("https://anything.internal/privacy", "local or internal"),
    ("https://intranet/privacy", "fully qualified"),
    ("https://private.example.com/privacy", "192.168.1.10"),
    ("https://mixed.example.com/privacy", "10.1.2.3"),
    ("https://v6private.example.com/privacy", "fc00::1"),
    ("https://nowhere.example.com/privacy", "does not resolve"),
]


@pytest.mark.parametrize("url, why", REFUSED, ids=[u[:60] for u, _ in REFUSED])
def test_a_url_the_module_must_not_call_is_refused_naming_body_url_and_why(dns, deployed, url, why):
    with pytest.raises(BadRequest) as refused:
        webhooks.check_url(url)
    assert refused.value.extra["field"] == "body.url"
    assert why in refused.value.message


def test_a_public_https_url_is_accepted(dns, deployed):
    url = "https://hooks.example.com/privacy?team=1"
    assert webhooks.check_url(url) == url


def test_a_loopback_http_url_is_accepted_in_the_local_stage(dns):
    assert webhooks.check_url("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080/hook"
    assert webhooks.check_url("http://localhost:8080/hook") == "http://localhost:8080/hook"


def test_a_loopback_url_is_refused_in_a_deployed_stage_even_without_the_flag(dns, monkeypatch):
    monkeypatch.setenv("STAGE", "dev")
    with pytest.raises(BadRequest):
        webhooks.check_url("http://127.0.0.1:8080/hook")


def test_the_local_stage_still_refuses_private_addresses_other_than_loopback(dns):
    with pytest.raises(BadRequest):
        webhooks.check_url("http://10.0.0.1:8080/hook")


# --- signing -----------------------------------------------------------------------------------------------

def system_with(*entries):
    return types.SimpleNamespace(system_id="crm", secrets=list(entries))


NEW = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD = "whsec_" + "C2FVsBQIhrscChlQIMV+b5sSYspob7oD"


def test_signature_headers_verify_with_the_standard_webhooks_package():
    now, payload = dt.datetime.now(dt.timezone.utc), json.dumps({"type": "erasure"})
    headers = webhooks.signature_headers(system_with({"secret": NEW, "expires_at": None}), "msg_1", now, payload)
    assert Webhook(NEW).verify(payload, headers) == {"type": "erasure"}
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "privacy-desk-webhooks/1"
    assert headers["webhook-id"] == "msg_1" and headers["webhook-timestamp"] == str(int(now.timestamp()))


def test_a_previous_secret_still_valid_signs_too_and_an_expired_one_does_not():
    now, payload = dt.datetime.now(dt.timezone.utc), "{}"
    later = clock.iso(clock.now() + dt.timedelta(hours=1))
    earlier = clock.iso(clock.now() - dt.timedelta(hours=1))
    both = system_with({"secret": OLD, "expires_at": later}, {"secret": NEW, "expires_at": None})
    headers = webhooks.signature_headers(both, "msg_2", now, payload)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(OLD).verify(payload, headers)
    Webhook(NEW).verify(payload, headers)
    expired = system_with({"secret": OLD, "expires_at": earlier}, {"secret": NEW, "expires_at": None})
    assert len(webhooks.signature_headers(expired, "msg_3", now, payload)["webhook-signature"].split(" ")) == 1


# --- post(), against a real server on 127.0.0.1 ------------------------------------------------------------

class Receiver(http.server.BaseHTTPRequestHandler):
    received: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        Receiver.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        route = getattr(self, "answer_" + self.path.strip("/").split("?")[0], None)
        try:
            (route or self.answer_ok)()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading, as it should

    def reply(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer_ok(self):
        self.reply(200, b'{"accepted": true}')

    def answer_fail(self):
        self.reply(500, b"internal error")

    def answer_gone(self):
        self.reply(410, b"this endpoint is gone")

    def answer_redirect(self):
        self.reply(302, headers=[("Location", "http://169.254.169.254/latest/meta-data/")])

    def answer_slow(self):
        time.sleep(2)
        self.reply(200, b"late")

    def answer_huge(self):
        self.reply(200, b"x" * (5 * 1024 * 1024))

    def answer_dirty(self):
        self.reply(200, "ok\x1b[2J\r\nline\x00two\u202eevil".encode())

    def answer_trickle(self):
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        for _ in range(1000):
            self.wfile.write(b"x")
            self.wfile.flush()
            time.sleep(0.05)

    def answer_trickle_headers(self):
        for char in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"y" * 1000:
            self.wfile.write(bytes([char]))
            self.wfile.flush()
            time.sleep(0.05)


@pytest.fixture
def receiver():
    Receiver.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def post(url, timeout=5.0, body=b"{}"):
    return webhooks.post(url, {"content-type": "application/json"}, body, timeout=timeout)


def test_a_2xx_answer_is_returned_with_its_status_and_excerpt(receiver):
    assert post(receiver + "/ok") == webhooks.Answer(200, '{"accepted": true}')


@pytest.mark.parametrize("path, status", [("/fail", 500), ("/gone", 410)])
def test_an_error_status_is_returned_not_raised(receiver, path, status):
    assert post(receiver + path).status == status


def test_a_redirect_is_not_followed_and_raises_saying_so(receiver):
    with pytest.raises(webhooks.DeliveryError) as failed:
        post(receiver + "/redirect")
    assert "redirect" in failed.value.reason and "302" in failed.value.reason
    assert [path for path, _, _ in Receiver.received] == ["/redirect"]


def test_a_receiver_slower_than_the_timeout_raises(receiver):
    started = time.monotonic()
    with pytest.raises(webhooks.DeliveryError) as failed:
        post(receiver + "/slow", timeout=0.5)
    assert "timed out" in failed.value.reason
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("path", ["/trickle", "/trickle_headers"])
def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout(receiver, path):
    started = time.monotonic()
    with pytest.raises(webhooks.DeliveryError) as failed:
        post(receiver + path, timeout=0.5)
    assert "timed out" in failed.value.reason
    assert time.monotonic() - started < 1.5


def test_a_huge_answer_is_read_only_in_part_and_its_excerpt_truncated(receiver):
    answer = post(receiver + "/huge")
    assert answer.status == 200 and answer.excerpt == "x" * 500


def test_the_excerpt_has_no_control_or_invisible_characters(receiver):
    assert post(receiver + "/dirty").excerpt == "ok[2J linetwoevil"


def test_a_closed_port_raises_a_connection_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(webhooks.DeliveryError) as failed:
        post(f"http://127.0.0.1:{port}/ok")
    assert "failed" in failed.value.reason


def test_a_tls_failure_raises_a_tls_error(receiver):
    with pytest.raises(webhooks.DeliveryError) as failed:
        post(receiver.replace("http://", "https://") + "/ok")
    assert "TLS" in failed.value.reason


def test_the_receiver_verifies_the_signature_with_the_standard_webhooks_package(receiver):
    payload = json.dumps({"type": "erasure", "request_id": "r_1"})
    headers = webhooks.signature_headers(system_with({"secret": NEW, "expires_at": None}), "msg_9",
                                         dt.datetime.now(dt.timezone.utc), payload)
    assert webhooks.post(receiver + "/ok", headers, payload.encode()).status == 200
    (_, got, body), = Receiver.received
    assert Webhook(NEW).verify(body, got) == {"type": "erasure", "request_id": "r_1"}
    assert got["user-agent"] == "privacy-desk-webhooks/1"


def test_a_name_that_now_resolves_to_a_private_address_is_refused_at_delivery(dns, deployed):
    webhooks.check_url("https://hooks.example.com/privacy")
    dns.table["hooks.example.com"] = ["10.0.0.7"]  # DNS rebinding: public at PUT, private at delivery
    with pytest.raises(webhooks.DeliveryError) as failed:
        post("https://hooks.example.com/privacy")
    assert "refused address" in failed.value.reason and "10.0.0.7" in failed.value.reason


def test_delivery_resolves_once_and_connects_to_the_address_it_checked(dns, deployed, monkeypatch):
    connected = []

    def refuse(address, timeout=None, *args, **kwargs):
        connected.append(address)
        raise ConnectionRefusedError("refused")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(webhooks.DeliveryError):
        post("https://hooks.example.com/privacy")
    assert dns.calls == ["hooks.example.com"]
    assert connected == [(PUBLIC_IP, 443)]


def test_a_name_that_no_longer_resolves_raises_a_dns_failure(dns, deployed):
    with pytest.raises(webhooks.DeliveryError) as failed:
        post("https://nowhere.example.com/privacy")
    assert "DNS" in failed.value.reason


def test_a_url_refused_at_put_is_refused_at_delivery_too(dns, deployed):
    with pytest.raises(webhooks.DeliveryError) as failed:
        post("https://169.254.169.254/latest/meta-data/")
    assert "metadata" in failed.value.reason
