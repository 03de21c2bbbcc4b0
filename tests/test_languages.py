"""Which language a person reads: the client's explicit choice if the team offers it, else their browser's
Accept-Language among the team's languages, else the team's default; the officer, the team's default."""
import types

import pytest

from chalicelib import languages, templating

EN_FR = ("en", "fr")


def settings(default="en", offered=None):
    return types.SimpleNamespace(locale=default, locales=offered)


# --- the rules, without AWS ------------------------------------------------------------------------------------

def test_an_explicit_locale_wins_over_the_browser():
    assert languages.for_client("fr", "en-GB,en;q=0.9", settings("en")) == "fr"


def test_without_an_explicit_locale_the_best_weighted_language_the_team_offers_is_chosen():
    assert languages.for_client(None, "sv;q=0.9, fr;q=0.8, en;q=0.1", settings("en")) == "fr"


def test_q_values_order_the_preferences_not_their_position():
    assert languages.negotiate("en;q=0.2, fr;q=0.9", EN_FR) == "fr"


def test_a_regional_variant_matches_its_language():
    assert languages.negotiate("es-ES,fr;q=0.5", ("en", "es")) == "es"
    assert languages.negotiate("FR-ca", EN_FR) == "fr"


def test_a_language_refused_with_q_0_is_never_chosen():
    assert languages.negotiate("fr;q=0, en;q=0.1", EN_FR) == "en"


@pytest.mark.parametrize("header", ["*", "", None, ";;;q=x,,", "fr;q=2", "fr;q=abc", "<script>", "\x00\xff",
                                    "a" * 10_000, ",".join(["zz"] * 500)])
def test_a_header_naming_nothing_usable_chooses_nothing_and_raises_nothing(header):
    assert languages.negotiate(header, EN_FR) is None


def test_nothing_the_team_offers_in_the_header_means_the_teams_default():
    assert languages.for_client(None, "sv, ja;q=0.5", settings("fr")) == "fr"


def test_the_browser_is_matched_against_the_teams_languages_only():
    assert languages.for_client(None, "en, fr;q=0.5", settings("fr", ["fr"])) == "fr"


def test_an_explicit_locale_the_team_does_not_offer_falls_back_to_the_browser_then_the_default():
    assert languages.for_client("en", "de", settings("fr", ["fr"])) == "fr"


def test_a_team_offering_no_list_offers_every_language_the_product_has():
    assert languages.offered(settings("fr")) == templating.LOCALES


def test_the_teams_default_is_always_among_its_languages():
    assert languages.offered(settings("fr", ["en"])) == ("fr", "en")


def test_a_language_the_product_lacks_is_refused_naming_the_field():
    with pytest.raises(Exception) as refused:
        languages.check("xx", "body.locale")
    assert refused.value.status == 400
    assert refused.value.extra["field"] == "body.locale"


def test_a_visitor_nobody_knows_gets_their_browsers_language_else_english():
    assert languages.for_visitor("fr-FR,fr;q=0.9") == "fr"
    assert languages.for_visitor("ja") == "en"


# --- through the API ---------------------------------------------------------------------------------------------

def test_a_submission_with_an_unknown_locale_is_refused_naming_the_field(api, team):
    answer = api.submit(team, "alice@client.example", locale="xx")
    assert answer.status_code == 400, answer.body
    assert "body.locale" in answer.body.decode()


def test_a_consent_withdrawal_with_an_unknown_locale_is_refused_naming_the_field(api, team):
    answer = api.post(f"/portal/{team.id}/privacy/consent/withdraw", {"email": "alice@client.example", "locale": "xx"})
    assert answer.status_code == 400, answer.body
    assert "body.locale" in answer.body.decode()


def test_the_portals_accept_language_chooses_the_clients_emails(api, team):
    answer = api.post(f"/portal/{team.id}/privacy/requests", {"email": "alice@client.example", "type": "erasure"},
                      headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8"})
    assert answer.status_code == 202, answer.body
    api.pump()
    assert api.mail_to("alice@client.example")[-1]["subject"].startswith("Confirmez")


def test_an_explicit_locale_chooses_the_clients_emails_over_the_header(api, team):
    answer = api.post(f"/portal/{team.id}/privacy/requests",
                      {"email": "alice@client.example", "type": "erasure", "locale": "en"},
                      headers={"Accept-Language": "fr"})
    assert answer.status_code == 202, answer.body
    api.pump()
    assert api.mail_to("alice@client.example")[-1]["subject"].startswith("Confirm your")


def test_without_locale_or_header_the_client_reads_the_teams_default(api, team):
    assert api.patch(f"/teams/{team.id}/privacy/settings", {"locale": "fr"}, token=team.token).status_code == 200
    assert api.submit(team, "alice@client.example").status_code == 202
    api.pump()
    assert api.mail_to("alice@client.example")[-1]["subject"].startswith("Confirmez")


def test_the_officer_reads_the_teams_default_whatever_the_client_chose(api, team):
    api.verified_request(team, "alice@client.example", locale="fr")
    assert "A client has made a privacy request" in api.mail_to(team.admin_email)[-1]["text"]


def test_a_team_chooses_the_languages_it_offers_and_the_portal_shows_them(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"locale": "fr", "locales": ["fr", "en"]},
                       token=team.token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["locales"] == ["fr", "en"]
    assert api.get(f"/teams/{team.id}/privacy/settings", token=team.token).json_body["locales"] == ["fr", "en"]
    portal = api.get(f"/portal/{team.id}/privacy").json_body
    assert (portal["locale"], portal["locales"]) == ("fr", ["fr", "en"])


def test_a_team_offering_a_language_the_product_lacks_is_refused_naming_it(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"locales": ["en", "xx"]}, token=team.token)
    assert answer.status_code == 400, answer.body
    assert "body.locales[1]" in answer.body.decode()


def test_a_default_outside_the_languages_offered_is_refused(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"locales": ["fr"]}, token=team.token)
    assert answer.status_code == 400, answer.body
    assert "body.locales" in answer.body.decode()
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"locale": "fr", "locales": ["fr"]}, token=team.token)
    assert answer.status_code == 200, answer.body
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"locale": "en"}, token=team.token)
    assert answer.status_code == 400, answer.body
    assert "body.locale" in answer.body.decode()


def test_an_unreadable_links_page_speaks_the_visitors_language(api):
    answer = api.get("/portal/privacy/verify/not-a-token", headers={"Accept-Language": "fr"})
    assert '<html lang="fr">' in answer.body.decode()
    answer = api.get("/portal/privacy/verify/not-a-token", headers={"Accept-Language": "ja, *;q=0.1"})
    assert '<html lang="en">' in answer.body.decode()
