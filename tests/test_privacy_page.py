"""Issue 17: the hosted privacy page a team links to or frames, and its plain-form submissions."""
import re
import urllib.parse

import pytest

from tests.test_pages import visible

HTML = {"Accept": "text/html"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
RIGHTS = ("erasure", "access", "portability", "rectification", "restriction", "objection", "consent_withdrawal")


def privacy_page(api, team, **headers):
    return api.get(f"/portal/{team.id}/privacy", headers={**HTML, **headers})


def post_form(api, team, **fields):
    raw = urllib.parse.urlencode(fields).encode()
    return api.post(f"/portal/{team.id}/privacy/form", raw=raw, headers=FORM)


def set_settings(api, team, **changes):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", changes, token=team.token)
    assert answer.status_code == 200, answer.body


def verification_mails(api, address):
    api.pump()
    return [m for m in api.mail_to(address) if "/portal/privacy/verify/" in m["text"]]


def test_a_browser_gets_the_html_page_and_an_api_client_json(api, team):
    assert privacy_page(api, team).headers["Content-Type"].startswith("text/html")
    assert api.get(f"/portal/{team.id}/privacy").json_body["request_types"]


def test_the_page_has_a_form_for_every_right_with_the_api_s_type_values(api, team):
    body = privacy_page(api, team).body.decode()
    assert sorted(re.findall(r'name="type" value="(\w+)"', body)) == sorted(RIGHTS)
    assert body.count('name="email"') == len(RIGHTS)


def test_the_rights_that_need_more_ask_for_it_in_their_own_field(api, team):
    body = privacy_page(api, team).body.decode()
    assert sorted(re.findall(r'id="message-(\w+)"', body)) == ["objection", "rectification", "restriction"]


def test_the_page_names_the_team_and_has_one_main_and_a_title(api):
    team = api.new_team("Zephyr Loans")
    body = privacy_page(api, team).body.decode()
    assert "Zephyr Loans" in visible(privacy_page(api, team))
    assert body.count("<main>") == 1 and re.search(r"<title>[^<]+</title>", body)


def test_the_banner_shows_by_default_and_hides_when_turned_off(api, team):
    assert "data-privacy-banner" in privacy_page(api, team).body.decode()
    set_settings(api, team, portal_privacy_banner_enabled=False)
    assert "data-privacy-banner" not in privacy_page(api, team).body.decode()


def test_the_policy_links_show_only_when_enabled(api, team):
    set_settings(api, team, privacy_policy_url="https://team.example/privacy")
    assert "https://team.example/privacy" not in privacy_page(api, team).body.decode()
    set_settings(api, team, policy_links_enabled=True)
    assert 'href="https://team.example/privacy"' in privacy_page(api, team).body.decode()


def test_the_page_follows_the_browser_s_language_among_the_team_s(api, team):
    set_settings(api, team, locales=["en", "de"])
    assert '<html lang="de"' in privacy_page(api, team, **{"Accept-Language": "de-DE,de;q=0.9"}).body.decode()
    assert '<html lang="en"' in privacy_page(api, team, **{"Accept-Language": "fr"}).body.decode()


def test_an_unknown_team_gets_an_html_page_not_json(api):
    answer = api.get("/portal/t_nope/privacy", headers=HTML)
    assert answer.status_code == 404 and answer.headers["Content-Type"].startswith("text/html")


def test_submitting_the_form_shows_the_receipt_and_sends_the_verification_email(api, team):
    answer = post_form(api, team, type="erasure", email="alice@client.example", locale="en")
    assert answer.status_code == 200
    assert "Check your inbox" in visible(answer)
    assert len(verification_mails(api, "alice@client.example")) == 1


def test_the_extra_field_reaches_the_request(api, team):
    post_form(api, team, type="rectification", email="alice@client.example", message="My name is Alice Martin")
    stored = api.get(f"/teams/{team.id}/privacy/requests", token=team.token).json_body["items"]
    assert stored == [] or stored[0]["message"] == "My name is Alice Martin"  # listed once verified
    from chalicelib.models import PrivacyRequest

    assert [r.message for r in PrivacyRequest.scan()] == ["My name is Alice Martin"]


def test_consent_withdrawal_from_the_page_sends_its_verification_email(api, team):
    post_form(api, team, type="consent_withdrawal", email="bob@client.example")
    assert len(verification_mails(api, "bob@client.example")) == 1


def test_the_receipt_is_the_same_whatever_exists_for_the_address(api, team):
    first = post_form(api, team, type="access", email="alice@client.example")
    again = post_form(api, team, type="access", email="alice@client.example")
    nobody = post_form(api, team, type="access", email="nobody@client.example")
    assert first.body == again.body
    assert first.body.replace(b"nobody", b"alice") == nobody.body.replace(b"nobody", b"alice")


def test_a_bad_address_shows_the_page_again_saying_so(api, team):
    answer = post_form(api, team, type="erasure", email="not an address")
    assert answer.status_code == 400
    assert "Enter a valid email address" in visible(answer)
    assert 'id="right-erasure" open' in answer.body.decode()


def test_an_unknown_type_is_refused_with_the_page(api, team):
    answer = post_form(api, team, type="everything", email="alice@client.example")
    assert answer.status_code == 400 and "could not be sent" in visible(answer)


# --- who may frame it ---------------------------------------------------------------------------------------------

def test_without_embed_origins_no_site_may_frame_the_page(api, team):
    headers = privacy_page(api, team).headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


def test_the_listed_origins_and_only_they_may_frame_the_page_and_its_receipt(api, team):
    set_settings(api, team, embed_origins=["https://portal.team.example", "https://www.team.example"])
    for answer in (privacy_page(api, team), post_form(api, team, type="access", email="a@client.example")):
        csp = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors https://portal.team.example https://www.team.example" in csp
        assert "X-Frame-Options" not in answer.headers
        assert "script-src 'self'" in csp


def test_a_framable_page_tells_its_script_the_listed_origins(api, team):
    set_settings(api, team, embed_origins=["https://portal.team.example"])
    body = privacy_page(api, team).body.decode()
    assert 'data-embed-origins="https://portal.team.example"' in body
    assert re.search(r'<script src="[^"]+/portal/assets/frame.js"', body)


def test_the_page_has_no_inline_script_or_style(api, team):
    set_settings(api, team, embed_origins=["https://portal.team.example"], accent_color="#1a5fb4")
    body = privacy_page(api, team).body.decode()
    assert not re.search(r"<script(?![^>]*\ssrc=)|<style|\sstyle=", body)


# --- branding -------------------------------------------------------------------------------------------------------

def test_the_logo_shows_and_only_its_origin_may_serve_images(api, team):
    set_settings(api, team, logo_url="https://cdn.team.example/logo.png")
    answer = privacy_page(api, team)
    assert '<img src="https://cdn.team.example/logo.png"' in answer.body.decode()
    assert "img-src https://cdn.team.example" in answer.headers["Content-Security-Policy"]


def test_the_accent_colour_comes_as_a_stylesheet(api, team):
    set_settings(api, team, accent_color="#1A5FB4")
    assert "/portal/assets/accent.css?c=1A5FB4" in privacy_page(api, team).body.decode()
    css = api.get("/portal/assets/accent.css?c=1A5FB4")
    assert css.headers["Content-Type"].startswith("text/css") and b"--accent:#1a5fb4" in css.body


@pytest.mark.parametrize("name", ["page.css", "frame.js", "embed.js"])
def test_the_assets_are_served(api, name):
    assert api.get(f"/portal/assets/{name}").status_code == 200


@pytest.mark.parametrize("name", ["accent.css?c=red;}body{", "app.py", "nope.js"])
def test_anything_else_is_not_an_asset(api, name):
    assert api.get(f"/portal/assets/{name}").status_code == 404


# --- the client's other pages ---------------------------------------------------------------------------------------

def status_link(api, team, email="alice@client.example"):
    api.verified_request(team, email, "erasure")
    return api.last_link_to(email, "/portal/privacy/requests/")


def test_the_status_page_s_cancel_leads_to_a_confirmation_that_changes_nothing(api, team):
    link = status_link(api, team)
    path, _, query = link.partition("?")
    shown = api.get(link, headers=HTML).body.decode()
    assert f'href="http://127.0.0.1:8000{path}/cancel?{query}"' in shown
    asked = api.get(f"{path}/cancel?{query}", headers=HTML)
    assert asked.status_code == 200 and 'data-action="confirm"' in asked.body.decode()
    assert api.get(link).json_body["status"] == "pending"


def test_confirming_cancels_the_request(api, team):
    path, _, query = status_link(api, team).partition("?")
    assert api.post(f"{path}/cancel?{query}", raw=b"", headers=FORM).status_code == 200
    assert api.get(f"{path}?{query}").json_body["status"] == "cancelled"


def test_the_export_link_shows_the_file_its_size_its_expiry_and_a_button(api, team):
    api.new_dossier(team, "alice@client.example")
    request_id = api.verified_request(team, "alice@client.example", "access")
    api.execute(team, request_id)
    api.work()
    api.pump()
    link = api.last_link_to("alice@client.example", "/portal/privacy/exports/")
    text = visible(api.get(link))
    assert f"privacy-export-{request_id}.zip" in text
    assert re.search(r"Size \d[\d.,]* (bytes|kB)", text) and re.search(r"Available until \d+ \w+ 20\d\d", text)
    assert f'class="button" href="http://127.0.0.1:8000{link}?download=1"' in api.get(link).body.decode()
    assert api.get(f"{link}?download=1").status_code == 302


@pytest.mark.parametrize("language, heading", [("fr-FR,fr;q=0.9", "Ce lien est incomplet"),
                                               ("de", "Dieser Link ist unvollständig"),
                                               (None, "This link is incomplete")])
def test_the_page_for_a_link_cut_short_is_in_the_visitor_s_language(api, language, heading):
    answer = api.get("/portal/missing", headers={**HTML, **({"Accept-Language": language} if language else {})})
    assert answer.status_code == 404
    assert heading in visible(answer)
