"""Issue 7, points 3 and 4: an attacker who knows someone's address can neither lock them out of their rights
nor learn from the portal whether they have a request. What is scarce is email to one inbox, not submissions."""
import datetime as dt

from chalicelib import ratelimit
from chalicelib.models import PrivacyRequest
from tests.support import shift_time

VICTIM = "victim@client.example"


def _links(api, address):
    return [m for m in api.mail_to(address) if "/portal/privacy/verify/" in m["text"]]


def test_an_attackers_five_submissions_an_hour_never_turn_the_clients_own_into_a_429(api, team):
    for _ in range(5):
        api.submit(team, VICTIM, message="attacker")
    assert api.submit(team, VICTIM).status_code == 202


def test_with_the_resend_cap_used_up_the_inbox_still_holds_a_working_link(api, team):
    for _ in range(6):
        api.submit(team, VICTIM, message="attacker")
    api.pump()
    link = api.last_link_to(VICTIM, "/portal/privacy/verify/")
    assert api.get(link).status_code == 200


def test_once_every_link_expired_a_new_submission_starts_fresh_with_its_own_message(api, team, monkeypatch):
    for _ in range(4):
        api.submit(team, VICTIM, message="attacker's words")
    api.pump()
    shift_time(monkeypatch, dt.timedelta(hours=24, minutes=1))
    fresh = api.submit(team, VICTIM, message="my own words").json_body["request_id"]
    api.pump()
    assert len(_links(api, VICTIM)) == 5  # four for the attacker's request, one new
    item = PrivacyRequest.get(team.id, fresh)
    assert item.message == "my own words"
    assert api.get(api.last_link_to(VICTIM, "/portal/privacy/verify/")).status_code == 200
    assert PrivacyRequest.get(team.id, fresh).status == "pending"


def test_the_resend_cap_counts_a_rolling_window_not_a_lifetime(api, team, monkeypatch):
    request_id = api.submit(team, VICTIM).json_body["request_id"]
    resend = f"/portal/{team.id}/privacy/requests/{request_id}/resend"
    shift_time(monkeypatch, dt.timedelta(hours=12))
    for _ in range(4):
        api.post(resend)
    api.pump()
    assert len(_links(api, VICTIM)) == 4  # four in the last 24 h: the fourth re-send sent nothing
    shift_time(monkeypatch, dt.timedelta(hours=12, minutes=30))  # (cumulative) the first send left the window
    api.post(resend)
    api.pump()
    assert len(_links(api, VICTIM)) == 5


def test_resends_count_against_the_per_network_limit(api, team):
    request_id = api.submit(team, VICTIM).json_body["request_id"]
    resend = f"/portal/{team.id}/privacy/requests/{request_id}/resend"
    codes = [api.post(resend).status_code for _ in range(60)]
    assert codes[-1] == 429 and set(codes[:59]) == {202}


def test_plus_tags_share_one_daily_email_budget_for_their_inbox(api, team):
    for n in range(15):
        assert api.submit(team, f"victim+{n}@client.example").status_code == 202
    api.pump()
    sent = [m for m in api.mail() if m["to"][0].startswith("victim+")]
    assert len(sent) == 10


def test_plus_tag_spam_does_not_touch_the_untagged_address(api, team):
    for n in range(12):
        api.submit(team, f"Victim+{n}@client.example")
    api.submit(team, VICTIM)
    api.pump()
    assert len(_links(api, VICTIM)) == 1


def test_ipv6_sources_are_limited_per_64(api):
    assert ratelimit.source_network("2001:db8:1:2::1") == ratelimit.source_network("2001:db8:1:2:ffff::9")
    assert ratelimit.source_network("2001:db8:1:2::1") != ratelimit.source_network("2001:db8:1:3::1")
    assert ratelimit.source_network("::ffff:192.0.2.7") == "192.0.2.7"


def test_a_network_limit_applies_to_a_whole_ipv6_64(aws, monkeypatch):
    import pytest

    from chalicelib.errors import TooManyRequests

    monkeypatch.setenv("PORTAL_LIMIT_PER_IP_HOUR", "3")
    for n in range(3):
        ratelimit.check_source(f"2001:db8::{n + 1}")
    with pytest.raises(TooManyRequests):
        ratelimit.check_source("2001:db8::ffff")
    ratelimit.check_source("2001:db8:0:1::1")  # the next /64 is someone else


# --- the portal's answers reveal nothing ------------------------------------------------------------------------

def _shape(answer):
    body = answer.json_body
    return answer.status_code, tuple(sorted(body)), body["status"], body["request_id"][:2], len(body["request_id"])


def test_submission_answers_are_identical_for_an_unknown_an_unverified_and_a_verified_address(api, team):
    api.verified_request(team, "known@client.example")
    api.submit(team, "waiting@client.example")
    answers = [api.submit(team, a) for a in ("known@client.example", "waiting@client.example",
                                             "nobody@client.example")]
    assert len({_shape(a) for a in answers}) == 1


def test_a_duplicate_submission_does_not_answer_the_existing_request_id(api, team):
    request_id = api.verified_request(team, "known@client.example")
    assert api.submit(team, "known@client.example").json_body["request_id"] != request_id


def test_resend_answers_are_identical_whatever_the_id_names(api, team):
    verified = api.verified_request(team, "known@client.example")
    waiting = api.submit(team, "waiting@client.example").json_body["request_id"]
    answers = [api.post(f"/portal/{team.id}/privacy/requests/{rid}/resend")
               for rid in (verified, waiting, "r_01NOSUCHREQUEST0000000000")]
    assert {(a.status_code, a.json_body["status"]) for a in answers} == {(202, "awaiting_verification")}
