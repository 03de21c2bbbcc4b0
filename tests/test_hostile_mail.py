"""Issue 7, points 1 and 2: no anonymous submission can stop the mail, and no client text reaches a header.

Each attack of the review is replayed first as it was sent; the siblings of each class follow."""
import email
from email import policy

import pytest
from botocore.exceptions import ClientError

from chalicelib import emails, mailer
from chalicelib.errors import BadRequest
from chalicelib.models import PrivacyRequest

REVIEW_ADDRESS = "=?utf-8?q?=0a?=@evil.example"
REVIEW_BCC = "a=?utf-8?q?=0abcc=3a_x=40evil.example=0ax=3a?=@evil.example"

REFUSED = {
    "encoded word (review, point 1)": REVIEW_ADDRESS,
    "encoded word adding a Bcc (review, point 2)": REVIEW_BCC,
    "encoded word in the domain": "a@=?utf-8?q?evil?=.example",
    "line feed": "a\nbcc:x@evil.example@example.com",
    "carriage return": "a@example.com\r\nBcc: x@evil.example",
    "NUL": "a\x00b@example.com",
    "tab": "a\tb@example.com",
    "quoted local part with CRLF": '"a\r\nbcc: x@evil"@example.com',
    "quoted local part with a space": '"a b"@example.com',
    "display name": "Eve <eve@evil.example>",
    "two addresses": "a@example.com, b@evil.example",
    "semicolon list": "a@example.com;b@evil.example",
    "non-ASCII local part": "jöhn@example.fr",
    "domain literal": "a@[127.0.0.1]",
    "no dot in domain": "a@localhost",
    "too long": "a" * 65 + "@example.com",
}


@pytest.mark.parametrize("address", REFUSED.values(), ids=REFUSED.keys())
def test_the_portal_refuses_an_address_that_could_change_meaning_on_the_way(api, team, address):
    answer = api.submit(team, address)
    assert answer.status_code == 400, answer.body
    assert "email" in answer.json_body["Message"]
    assert api.state()["privacy-desk-local-requests"] == []


@pytest.mark.parametrize("address", [REVIEW_ADDRESS, REVIEW_BCC, "a@=?utf-8?q?evil?=.example"])
def test_an_encoded_word_is_refused_saying_so(api, team, address):
    answer = api.submit(team, address)
    assert answer.status_code == 400
    assert "encoded words" in answer.json_body["Message"]


def test_a_non_ascii_local_part_is_refused_saying_why(api, team):
    answer = api.submit(team, "jöhn@example.fr")
    assert answer.status_code == 400
    assert "ASCII" in answer.json_body["Message"]


def test_an_internationalised_domain_is_kept_in_its_ascii_form(api, team):
    request_id = api.submit(team, "Anna@Exämple.fr").json_body["request_id"]
    assert PrivacyRequest.get(team.id, request_id).email == "anna@xn--exmple-cua.fr"


def test_the_unicode_and_punycode_spellings_of_a_domain_are_the_same_client(api, team):
    api.new_dossier(team, "anna@exämple.fr")
    listed = api.get(f"/teams/{team.id}/dossiers?client_email=anna@xn--exmple-cua.fr", token=team.token)
    assert len(listed.json_body["items"]) == 1


def test_every_stored_address_is_one_ses_can_deliver():
    for address in ("a.b+tag@example.com", "o'brien@example.ie", "x@sub.example.co.uk"):
        assert emails.deliverable(emails.normalise(address))
    with pytest.raises(BadRequest):
        emails.normalise(REVIEW_BCC)


# --- a record that can never succeed doesn't block the shard ---------------------------------------------------

def _plant_undeliverable_request(api, team) -> str:
    """A request whose stored address can't be sent to, as if validation had been bypassed (older data)."""
    request_id = api.submit(team, "victim@client.example").json_body["request_id"]
    api.pump()
    item = PrivacyRequest.get(team.id, request_id)
    item.update(actions=[PrivacyRequest.email.set(REVIEW_ADDRESS),
                         PrivacyRequest.verification_sends.set(2)])
    return request_id


def test_an_undeliverable_address_is_recorded_on_the_request_and_does_not_fail_the_batch(api, team):
    request_id = _plant_undeliverable_request(api, team)
    api.submit(team, "bob@client.example")
    answer = api.deliver(api.stream_records())  # raises BatchFailed if any record failed
    assert answer.payload["records"] == 2
    assert len(api.mail_to("bob@client.example")) == 1
    alerts = api.request_view(team, request_id)["alerts"]
    assert [(a["kind"], a["email"], a["recipient"]) for a in alerts] == [("email_failed", "verify", "client")]


def _ses_rejecting(address: str):
    """SES (moto's) as it answers a blocked recipient: MessageRejected for `address`, delivery for the rest."""
    real_ses = mailer.aws.ses()

    class Rejecting:
        def send_raw_email(self, **kwargs):
            if address in kwargs["Destinations"]:
                raise ClientError({"Error": {"Code": "MessageRejected", "Message": "Address blacklisted."}},
                                  "SendRawEmail")
            return real_ses.send_raw_email(**kwargs)

    return lambda: Rejecting()


def test_a_message_ses_rejects_is_permanent_and_others_still_go(api, team, monkeypatch):
    alice = api.submit(team, "alice@client.example").json_body["request_id"]
    api.submit(team, "bob@client.example")
    records = api.stream_records()
    monkeypatch.setattr(mailer.aws, "ses", _ses_rejecting("alice@client.example"))
    api.deliver(records)  # no BatchFailed: nothing here can pass by retrying
    api.deliver(records)  # redelivered: still nothing twice
    assert len(api.mail_to("bob@client.example")) == 1
    assert len(api.request_view(team, alice)["alerts"]) == 1


def test_one_officer_address_ses_rejects_does_not_stop_the_other_officers_email(api, team, monkeypatch):
    # No officer chosen: every admin is told, in member-id order ("bea" before the first admin's "m_...").
    api.add_member(team, "bea", "bea@team.example", role="admin")
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    api.get(api.last_link_to("alice@client.example", "/portal/privacy/verify/"))
    monkeypatch.setattr(mailer.aws, "ses", _ses_rejecting("bea@team.example"))
    api.pump()
    assert len(api.mail_to(team.admin_email)) == 1  # the next officer's email still went
    alerts = api.request_view(team, request_id)["alerts"]
    assert [(a["email"], a["recipient"]) for a in alerts] == [("officer_new", "officer")]


def test_ses_rejection_is_classified_permanent_but_throttling_is_not(monkeypatch):
    def answer_with(code):
        def send_raw_email(**kwargs):
            raise ClientError({"Error": {"Code": code, "Message": "x"}}, "SendRawEmail")
        return send_raw_email

    class FakeSes:
        pass

    fake = FakeSes()
    monkeypatch.setattr(mailer.aws, "ses", lambda: fake)
    fake.send_raw_email = answer_with("MessageRejected")
    with pytest.raises(mailer.PermanentSendError):
        mailer.send(["a@example.com"], "s", "t", "<p>h</p>")
    fake.send_raw_email = answer_with("Throttling")
    with pytest.raises(ClientError):
        mailer.send(["a@example.com"], "s", "t", "<p>h</p>")


def test_an_unforeseen_error_is_retried_then_recorded_instead_of_blocking_forever(api, team, monkeypatch):
    from chalicelib import notifications
    from chalicelib.notifications import BatchFailed

    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    records = api.stream_records()
    monkeypatch.setattr(notifications.mailer, "send", lambda *a, **k: (_ for _ in ()).throw(KeyError("boom")))
    for _ in range(notifications.MAX_ATTEMPTS - 1):
        with pytest.raises(BatchFailed):
            api.deliver(records)
    api.deliver(records)  # the last attempt gives up on this email and lets the shard move on
    assert [a["reason"] for a in api.request_view(team, request_id)["alerts"]] == [
        f"gave up after {notifications.MAX_ATTEMPTS} attempts: KeyError"]


def test_a_request_with_nobody_to_notify_is_an_alert_not_silence(api, team, caplog):
    from chalicelib.models import Member

    Member.get(team.id, team.admin_id).delete()  # older data: a team left without any admin
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    api.get(api.last_link_to("alice@client.example", "/portal/privacy/verify/"))
    caplog.set_level("ERROR")
    api.pump()
    from chalicelib.models import PrivacyRequest as PR

    alerts = PR.get(team.id, request_id).alerts
    assert [(a["email"], a["recipient"]) for a in alerts] == [("officer_new", "officer")]
    assert "no privacy officer and no admin" in alerts[0]["reason"]
    assert any(r.levelname == "ERROR" and "officer_new" in r.getMessage() for r in caplog.records)


# --- headers ----------------------------------------------------------------------------------------------------

def _headers(raw: bytes) -> list[str]:
    return [name.lower() for name in email.message_from_bytes(raw, policy=policy.default).keys()]


def test_a_subject_with_line_breaks_and_a_bcc_adds_no_header():
    raw = mailer.build(["a@example.com"], "Hello\r\nBcc: x@evil.example\n\nbody", "t", "<p>h</p>")
    assert sorted(_headers(raw)) == sorted(h.lower() for h in mailer.HEADERS)
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["To"] == "a@example.com"
    assert "\n" not in parsed["Subject"]


def test_an_encoded_word_in_a_subject_stays_text():
    raw = mailer.build(["a@example.com"], "=?utf-8?q?=0abcc=3a_x=40evil.example?=", "t", "<p>h</p>")
    assert sorted(_headers(raw)) == sorted(h.lower() for h in mailer.HEADERS)


def test_bidi_and_control_characters_leave_the_subject():
    assert mailer.clean_subject("a\u202eb\u200bc\x00d\u2028e") == "a b c d e"


def test_the_mailer_refuses_to_write_a_header_for_an_undeliverable_recipient():
    with pytest.raises(mailer.PermanentSendError):
        mailer.build([REVIEW_BCC], "s", "t", "<p>h</p>")


def test_a_message_with_a_header_the_mailer_did_not_write_is_refused():
    raw = mailer.build(["a@example.com"], "s", "t", "<p>h</p>")
    with pytest.raises(mailer.PermanentSendError):
        mailer.check_headers(raw.replace(b"Subject:", b"Bcc: x@evil.example\nSubject:", 1))


def test_no_email_subject_carries_the_client_address_or_message(api, team):
    api.new_dossier(team, "alice.marker@client.example")
    request_id = api.verified_request(team, "alice.marker@client.example", message="MESSAGE-MARKER")
    api.execute(team, request_id)
    api.pump()
    subjects = [m["subject"] for m in api.mail()]
    assert len(subjects) >= 4
    assert not [s for s in subjects if "marker" in s.lower()]
