"""The local outbox reads moto's dump of every backend, which answers 500 when an object changes while it is
dumped (an S3 key the worker writes meanwhile): the outbox asks again rather than failing `GET /_dev/outbox`."""
import http.server
import json
import threading

import pytest

from chalicelib import outbox


class Dump(http.server.ThreadingHTTPServer):
    def __init__(self, failures: int):
        self.failures, self.asked = failures, 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(handler):  # noqa: N802, N805 — http.server's names
                self.asked += 1
                failing = self.asked <= self.failures
                body = b"FakeKey is not JSON serializable" if failing else json.dumps({"ses": {"RawMessage": []}}).encode()
                handler.send_response(500 if failing else 200)
                handler.send_header("Content-Length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def no_wait(monkeypatch):
    monkeypatch.setattr(outbox.time, "sleep", lambda seconds: None)


def test_a_dump_that_fails_while_objects_change_is_asked_for_again(monkeypatch, no_wait):
    dump = Dump(failures=2)
    monkeypatch.setenv("AWS_ENDPOINT_URL", dump.url)
    try:
        assert outbox.messages() == [] and dump.asked == 3
    finally:
        dump.shutdown()


def test_a_dump_that_keeps_failing_still_fails(monkeypatch, no_wait):
    import urllib.error

    dump = Dump(failures=outbox.ATTEMPTS)
    monkeypatch.setenv("AWS_ENDPOINT_URL", dump.url)
    try:
        with pytest.raises(urllib.error.HTTPError):
            outbox.messages()
        assert dump.asked == outbox.ATTEMPTS
    finally:
        dump.shutdown()
