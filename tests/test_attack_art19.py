"""Attacks on Art. 19 (connected systems, callbacks, owner pages, the record) that once worked; each test states
the safe behaviour."""

import pytest

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


@pytest.mark.parametrize("system_id", ["a@b", "@"])
def test_any_at_sign_in_a_system_id_is_refused(api, team, system_id):
    answer = api.put(f"/teams/{team.id}/privacy/systems/{system_id}",
                     {"name": "CRM", "kind": "manual", "owner_email": OWNER}, token=team.token)
    assert answer.status_code == 400, answer.body



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
