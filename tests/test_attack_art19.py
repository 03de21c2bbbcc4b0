"""Attacks on Art. 19 (connected systems, callbacks, owner pages, the record) that once worked; each test states
the safe behaviour."""
import datetime as dt
import json
import socket
import threading

import pytest

from chalicelib import clock, housekeeping
from tests.test_recipients import add_manual, executed, task

CLIENT = "zoe@client.example"
OWNER = "owner@team.example"


def test_a_system_id_that_could_hold_a_clients_address_is_refused(api, team):
    # The system id is written into the request's record (work_done, recipient_* entries), which refuses any
    # entry holding the client's address: a client whose address is inside a system id made the worker raise
    # at every attempt, and the request stayed in progress for good.
    answer = api.put(f"/teams/{team.id}/privacy/systems/crm-{CLIENT}",
                     {"name": "CRM", "kind": "manual", "owner_email": OWNER}, token=team.token)
    assert answer.status_code == 400, answer.body
    assert answer.json_body["field"] == "system_id"


def test_an_encoded_word_in_a_system_name_is_shown_literally_in_the_owners_subject(api, team):
    # "=?utf-8?b?4oCuRXZpbA==?=" is U+202E (right-to-left override) + "Evil" once a mail client decodes it.
    add_manual(api, team, name="=?utf-8?b?4oCuRXZpbA==?=")
    executed(api, team, email=CLIENT)
    subject = api.mail_to(OWNER)[-1]["subject"]
    assert "\u202e" not in subject
    assert "=?utf-8?b?4oCuRXZpbA==?=" in subject


def test_a_percent_encoded_non_utf8_reason_is_refused_and_the_task_stays_open(api, team):
    add_manual(api, team)
    request_id = executed(api, team, email=CLIENT)
    link = api.last_link_to(OWNER, "/privacy/tasks/")
    answer = api.call("POST", link, raw=b"action=cannot&reason=%ff%fe",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400
    assert task(api, team, request_id, "paper")["status"] == "pending"


def _one_shot_receiver(answer: bytes) -> tuple[socket.socket, str]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)

    def run():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                length = int(next((line.split(b":")[1] for line in data.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), b"0"))
                body = data.split(b"\r\n\r\n", 1)[1]
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(answer)

    threading.Thread(target=run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.getsockname()[1]}/hook"


def test_a_receivers_answer_naming_the_client_does_not_outlive_pseudonymisation(api, team):
    text = json.dumps({"error": f"account {CLIENT} is closed"}).encode()
    server, url = _one_shot_receiver(b"HTTP/1.1 410 Gone\r\nContent-Length: %d\r\n\r\n%s" % (len(text), text))
    try:
        put = api.put(f"/teams/{team.id}/privacy/systems/crm", {"name": "CRM", "kind": "webhook", "url": url},
                      token=team.token)
        assert put.status_code == 201, put.body
        request_id = executed(api, team, "rectification", email=CLIENT, note="Surname corrected.")
    finally:
        server.close()
    assert CLIENT in task(api, team, request_id, "crm")["last_error"]  # shown to the team while it can act
    assert api.request_view(team, request_id)["status"] == "completed"
    housekeeping.run(clock.now() + dt.timedelta(days=31))
    view = api.request_view(team, request_id)
    assert view["pseudonymised_at"]
    assert CLIENT not in json.dumps(view)


@pytest.mark.parametrize("system_id", ["a@b", "@"])
def test_any_at_sign_in_a_system_id_is_refused(api, team, system_id):
    answer = api.put(f"/teams/{team.id}/privacy/systems/{system_id}",
                     {"name": "CRM", "kind": "manual", "owner_email": OWNER}, token=team.token)
    assert answer.status_code == 400, answer.body
