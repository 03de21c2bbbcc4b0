"""Issue 2 §5: the requests table's stream drives the emails — officer on `pending`, client on `completed` — and
the action link (GET shows, POST executes once). Stream records always come from moto."""
import calendar
import datetime as dt
import re

from chalicelib import clock, tokens
from tests.support import alter_one_char

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def settings_path(team):
    return f"/teams/{team.id}/privacy/settings"


def with_officer(api, team, member_id="dpo", email="dpo@team.example"):
    token = api.add_member(team, member_id, email)
    answer = api.patch(settings_path(team), {"privacy_officer_id": member_id}, token=team.token)
    assert answer.status_code == 200, answer.body
    return token


def submit_and_open_verification(api, team, email):
    """Submit and open the verification link, but leave the stream records of that verification undelivered."""
    answer = api.submit(team, email)
    assert answer.status_code == 202, answer.body
    api.pump()
    assert api.get(api.last_link_to(email, "/portal/privacy/verify/")).status_code == 200
    return answer.json_body["request_id"]


def one_calendar_month_after(day: dt.date) -> dt.date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def mentions_day(text: str, day: dt.date) -> bool:
    """The date written as ISO (2026-01-31) or in words (31 January 2026)."""
    return day.isoformat() in text or f"{day.day} {calendar.month_name[day.month]} {day.year}" in text


def post_action(api, link):
    """Confirm from the action page (202, in progress); the worker then carries the request out."""
    answer = api.post(link, raw=b"", headers=FORM)
    api.work()
    return answer


# --- the officer's email -------------------------------------------------------------------------------------------

def test_verified_request_emails_the_privacy_officer_once(api, team):
    with_officer(api, team)
    api.verified_request(team, "alice@client.example")
    assert len(api.mail_to("dpo@team.example")) == 1


def test_with_an_officer_set_the_admins_are_not_emailed(api, team):
    with_officer(api, team)
    api.verified_request(team, "alice@client.example")
    assert api.mail_to(team.admin_email) == []


def test_officer_email_names_type_client_received_due_matching_dossiers_link_and_reminder(api, team):
    with_officer(api, team)
    api.new_dossier(team, "alice@client.example")
    api.new_dossier(team, "Alice@Client.example")
    api.new_dossier(team, "bob@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    request = api.request_view(team, request_id)
    (message,) = api.mail_to("dpo@team.example")
    text = message["text"]
    received = clock.parse(request["received_at"]).date()
    due = one_calendar_month_after(received)
    assert "erasure" in message["subject"].lower()
    assert "erasure" in text.lower()
    assert "alice@client.example" in text
    assert mentions_day(text, received)
    assert mentions_day(text, due)
    assert re.search(r"matching dossiers\W+2\b", text, re.IGNORECASE)
    assert "/actions/" in text
    assert "every other application" in text
    assert "every other application" in message["html"]
    assert "/actions/" in message["html"]


def test_request_due_date_is_one_calendar_month_after_it_was_received(api, team):
    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    request = api.request_view(team, request_id)
    received = clock.parse(request["received_at"])
    assert clock.parse(request["due_at"]).date() == one_calendar_month_after(received.date())


def test_due_date_of_a_month_end_is_the_last_day_of_the_next_month():
    received = dt.datetime(2025, 1, 31, 10, 0, tzinfo=clock.UTC)
    assert clock.due_date(received).date() == dt.date(2025, 2, 28)
    assert clock.due_date(dt.datetime(2024, 1, 31, tzinfo=clock.UTC)).date() == dt.date(2024, 2, 29)
    assert clock.due_date(dt.datetime(2025, 12, 15, tzinfo=clock.UTC)).date() == dt.date(2026, 1, 15)


def test_without_an_officer_every_admin_is_emailed(api, team):
    api.add_member(team, "admin2", "admin2@team.example", role="admin")
    api.add_member(team, "m1", "m1@team.example", role="member")
    api.verified_request(team, "alice@client.example")
    assert len(api.mail_to(team.admin_email)) == 1
    assert len(api.mail_to("admin2@team.example")) == 1
    assert api.mail_to("m1@team.example") == []


def test_clearing_the_officer_sends_to_the_admins_again(api, team):
    with_officer(api, team)
    api.patch(settings_path(team), {"privacy_officer_id": None}, token=team.token)
    api.verified_request(team, "alice@client.example")
    assert api.mail_to("dpo@team.example") == []
    assert len(api.mail_to(team.admin_email)) == 1


def test_redelivered_stream_records_send_no_second_officer_email(api, team):
    with_officer(api, team)
    submit_and_open_verification(api, team, "alice@client.example")
    records = api.stream_records()
    assert records
    api.deliver(records)
    api.deliver(records)
    assert len(api.mail_to("dpo@team.example")) == 1


def test_redelivered_stream_records_send_no_second_verification_email(api, team):
    api.submit(team, "alice@client.example")
    records = api.stream_records()
    assert records
    api.deliver(records)
    api.deliver(records)
    assert len(api.mail_to("alice@client.example")) == 1


def test_each_stream_record_of_a_verification_is_delivered_independently(api, team):
    """Record by record (as separate Lambda batches), twice each: still one officer email."""
    with_officer(api, team)
    submit_and_open_verification(api, team, "alice@client.example")
    records = api.stream_records()
    for record in records + records:
        api.deliver([record])
    assert len(api.mail_to("dpo@team.example")) == 1


# --- the action link -----------------------------------------------------------------------------------------------

def test_action_link_get_shows_the_request_with_a_confirm_button(api, team):
    with_officer(api, team)
    api.verified_request(team, "alice@client.example")
    answer = api.get(api.last_link_to("dpo@team.example", "/actions/"))
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "alice@client.example" in answer.body.decode()
    assert 'method="post"' in answer.body.decode()


def test_action_link_get_changes_nothing(api, team):
    with_officer(api, team)
    dossier = api.new_dossier(team, "alice@client.example")
    api.add_document(team, dossier["dossier_id"])
    request_id = api.verified_request(team, "alice@client.example")
    link = api.last_link_to("dpo@team.example", "/actions/")
    before, mail_before = api.state(), len(api.mail())
    for _ in range(3):
        assert api.get(link).status_code == 200
    api.pump()
    assert api.state() == before
    assert len(api.mail()) == mail_before
    assert api.request_view(team, request_id)["status"] == "pending"


def test_action_link_post_executes_the_request(api, team):
    with_officer(api, team)
    dossier = api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    answer = post_action(api, api.last_link_to("dpo@team.example", "/actions/"))
    assert answer.status_code == 202, answer.body
    request = api.request_view(team, request_id)
    assert request["status"] == "completed"
    assert request["executed_by"] == {"kind": "member", "id": "dpo"}
    assert api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", token=team.token).status_code == 404


def test_action_link_second_post_is_409(api, team):
    with_officer(api, team)
    api.verified_request(team, "alice@client.example")
    link = api.last_link_to("dpo@team.example", "/actions/")
    assert post_action(api, link).status_code == 202
    before = api.state()
    again = post_action(api, link)
    assert again.status_code == 409
    assert again.headers["Content-Type"].startswith("text/html")
    assert api.state() == before


def test_action_link_post_after_execution_from_the_account_is_409(api, team):
    with_officer(api, team)
    request_id = api.verified_request(team, "alice@client.example")
    link = api.last_link_to("dpo@team.example", "/actions/")
    assert api.execute(team, request_id).status_code == 202
    assert post_action(api, link).status_code == 409


def test_action_token_altered_by_one_byte_is_refused_with_a_page_and_changes_nothing(api, team):
    with_officer(api, team)
    dossier = api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    link = api.last_link_to("dpo@team.example", "/actions/")
    prefix, token = link.rsplit("/", 1)
    before = api.state()
    for altered in (alter_one_char(token), alter_one_char(token, index=len(token) // 3)):
        for answer in (api.get(f"{prefix}/{altered}"), post_action(api, f"{prefix}/{altered}")):
            assert 400 <= answer.status_code < 500, answer.status_code
            assert answer.headers["Content-Type"].startswith("text/html")
    assert api.state() == before
    assert api.request_view(team, request_id)["status"] == "pending"
    assert api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", token=team.token).status_code == 200


def test_expired_action_token_is_refused(api, team):
    with_officer(api, team)
    request_id = api.verified_request(team, "alice@client.example")
    expired = tokens.sign(tokens.ACTION, {"team": team.id, "req": request_id, "officer": "dpo"},
                          lifetime=dt.timedelta(seconds=-60))
    answer = post_action(api, f"/actions/{expired}")
    assert answer.status_code == 401
    assert "expired" in answer.body.decode()
    assert api.request_view(team, request_id)["status"] == "pending"


def test_action_token_expires_after_seven_days(api, team):
    with_officer(api, team)
    api.verified_request(team, "alice@client.example")
    token = api.last_link_to("dpo@team.example", "/actions/").rsplit("/", 1)[1]
    claims = tokens.read(token, tokens.ACTION)
    assert claims["exp"] - claims["iat"] == 7 * 24 * 3600


def test_a_bearer_token_is_not_an_action_token(api, team):
    with_officer(api, team)
    request_id = api.verified_request(team, "alice@client.example")
    answer = post_action(api, f"/actions/{team.token}")
    assert answer.status_code == 401
    assert api.request_view(team, request_id)["status"] == "pending"


# --- the client's notice -------------------------------------------------------------------------------------------

def deletion_notices(api, email):
    return [m for m in api.mail_to(email) if "deleted" in m["subject"].lower()]


def test_completed_erasure_emails_the_client(api, team):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    api.execute(team, request_id)
    api.pump()
    (notice,) = deletion_notices(api, "alice@client.example")
    assert request_id in notice["text"]


def test_client_notice_is_sent_once_even_when_records_are_redelivered(api, team):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example")
    api.execute(team, request_id)
    records = api.stream_records()
    api.deliver(records)
    api.deliver(records)
    api.pump()
    assert len(deletion_notices(api, "alice@client.example")) == 1


def test_no_client_notice_before_execution(api, team):
    api.verified_request(team, "alice@client.example")
    api.pump()
    assert deletion_notices(api, "alice@client.example") == []


def test_the_requests_table_streams_new_and_old_images(api, aws):
    from chalicelib import aws as aws_clients
    from chalicelib.models import PrivacyRequest

    table = aws_clients.client("dynamodb").describe_table(TableName=PrivacyRequest.Meta.table_name)["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert table["LatestStreamArn"] == aws


def test_a_stream_record_of_a_removed_request_sends_nothing(api, team):
    """A REMOVE record (TTL expiry of an unverified request), produced by moto, is skipped."""
    from chalicelib.models import PrivacyRequest

    request_id = api.submit(team, "alice@client.example").json_body["request_id"]
    api.pump()
    mail_before = len(api.mail())
    PrivacyRequest.get(team.id, request_id).delete()
    records = api.stream_records()
    assert [r["eventName"] for r in records] == ["REMOVE"]
    api.deliver(records)
    assert len(api.mail()) == mail_before
