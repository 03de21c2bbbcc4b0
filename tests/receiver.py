"""A real webhook receiver on localhost for tests: it verifies every event's signature with the
`standardwebhooks` package, answers what the test scripts (a 500 first, a 410, a slow answer...), and can
confirm an event by POSTing to its callback_url."""
import http.server
import json
import threading
import time
import urllib.request

from standardwebhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self):
        self.secret: str | None = None
        self.events: list[dict] = []  # every request received: headers, body, whether its signature verified
        self.answers: list[int] = []  # statuses to answer, in order; 204 once they run out
        self.delay = 0.0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                verified = None
                if receiver.secret:
                    try:
                        Webhook(receiver.secret).verify(body, headers)
                        verified = True
                    except WebhookVerificationError:
                        verified = False
                receiver.events.append({"headers": headers, "body": json.loads(body), "verified": verified})
                if receiver.delay:
                    time.sleep(receiver.delay)
                status = receiver.answers.pop(0) if receiver.answers else 204
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def confirm(callback_url: str, status: str = "completed", note: str | None = None) -> tuple[int, dict]:
        """What a receiver does when its work is done: POST its answer to the event's callback_url."""
        data = json.dumps({"status": status, **({"note": note} if note is not None else {})}).encode()
        request = urllib.request.Request(callback_url, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as exc:
            return exc.code, json.load(exc)
