"""Issue 2 §2: team members and a team's privacy settings (admins change them, members read them)."""
import pytest

from tests.support import error_shape

DEFAULTS = {
    "consent_capture_enabled": False,
    "consent_text": None,
    "consent_version": 0,
    "policy_links_enabled": False,
    "privacy_policy_url": None,
    "terms_of_service_url": None,
    "portal_privacy_banner_enabled": True,
    "privacy_officer_id": None,
}


def settings_path(team):
    return f"/teams/{team.id}/privacy/settings"


# --- members ---------------------------------------------------------------------------------------------------

def test_put_member_creates_a_member_with_201(api, team):
    answer = api.put(f"/teams/{team.id}/members/m1", {"email": "m1@team.example", "name": "Mia", "role": "member"},
                     token=team.token)
    assert answer.status_code == 201, answer.body
    assert answer.json_body["member_id"] == "m1"
    assert answer.json_body["role"] == "member"
    assert answer.json_body["email"] == "m1@team.example"


def test_put_member_again_updates_it_with_200(api, team):
    api.add_member(team, "m1", "m1@team.example")
    answer = api.put(f"/teams/{team.id}/members/m1", {"email": "m1@team.example", "name": "Mia B", "role": "admin"},
                     token=team.token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["name"] == "Mia B"
    assert answer.json_body["role"] == "admin"


def test_put_member_refuses_a_role_other_than_admin_or_member(api, team):
    answer = api.put(f"/teams/{team.id}/members/m1", {"email": "m1@team.example", "name": "Mia", "role": "owner"},
                     token=team.token)
    assert answer.status_code == 400
    error_shape(answer)


def test_a_new_member_token_works_on_the_team(api, team):
    token = api.add_member(team, "m1", "m1@team.example")
    assert api.get(settings_path(team), token=token).status_code == 200


# --- reading settings ------------------------------------------------------------------------------------------

def test_settings_of_a_team_that_never_saved_any_are_the_defaults(api, team):
    got = api.settings(team)
    for name, default in DEFAULTS.items():
        assert got[name] == default, name


def test_settings_default_banner_is_on_and_everything_else_off(api, team):
    got = api.settings(team)
    assert got["portal_privacy_banner_enabled"] is True
    assert got["consent_capture_enabled"] is False
    assert got["policy_links_enabled"] is False


def test_member_role_token_can_read_settings(api, team):
    token = api.add_member(team, "m1", "m1@team.example")
    answer = api.get(settings_path(team), token=token)
    assert answer.status_code == 200
    assert answer.json_body["portal_privacy_banner_enabled"] is True


# --- changing settings -----------------------------------------------------------------------------------------

def test_patch_changes_only_the_fields_it_names(api, team):
    answer = api.patch(settings_path(team), {"policy_links_enabled": True}, token=team.token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["policy_links_enabled"] is True
    for name, default in DEFAULTS.items():
        if name != "policy_links_enabled":
            assert answer.json_body[name] == default, name


def test_patch_is_persisted_and_returned_by_get(api, team):
    api.patch(settings_path(team), {"consent_capture_enabled": True, "portal_privacy_banner_enabled": False,
                                    "privacy_policy_url": "https://team.example/privacy",
                                    "terms_of_service_url": "https://team.example/terms"}, token=team.token)
    got = api.settings(team)
    assert got["consent_capture_enabled"] is True
    assert got["portal_privacy_banner_enabled"] is False
    assert got["privacy_policy_url"] == "https://team.example/privacy"
    assert got["terms_of_service_url"] == "https://team.example/terms"


def test_setting_consent_text_for_the_first_time_bumps_consent_version_to_1(api, team):
    answer = api.patch(settings_path(team), {"consent_text": "I agree."}, token=team.token)
    assert answer.json_body["consent_text"] == "I agree."
    assert answer.json_body["consent_version"] == 1


def test_each_change_of_consent_text_bumps_consent_version(api, team):
    api.patch(settings_path(team), {"consent_text": "v1"}, token=team.token)
    api.patch(settings_path(team), {"consent_text": "v2"}, token=team.token)
    answer = api.patch(settings_path(team), {"consent_text": "v3"}, token=team.token)
    assert answer.json_body["consent_version"] == 3


def test_patching_the_same_consent_text_does_not_bump_consent_version(api, team):
    api.patch(settings_path(team), {"consent_text": "I agree."}, token=team.token)
    answer = api.patch(settings_path(team), {"consent_text": "I agree."}, token=team.token)
    assert answer.status_code == 200
    assert answer.json_body["consent_version"] == 1


def test_patching_other_fields_does_not_bump_consent_version(api, team):
    api.patch(settings_path(team), {"consent_text": "I agree."}, token=team.token)
    answer = api.patch(settings_path(team), {"consent_capture_enabled": True, "policy_links_enabled": True},
                       token=team.token)
    assert answer.json_body["consent_version"] == 1


def test_policy_urls_must_be_https(api, team):
    answer = api.patch(settings_path(team), {"privacy_policy_url": "http://team.example/privacy"}, token=team.token)
    assert answer.status_code == 400
    error_shape(answer)
    assert api.settings(team)["privacy_policy_url"] is None


def test_terms_of_service_url_must_be_https(api, team):
    answer = api.patch(settings_path(team), {"terms_of_service_url": "javascript:alert(1)"}, token=team.token)
    assert answer.status_code == 400
    assert api.settings(team)["terms_of_service_url"] is None


def test_a_refused_url_leaves_the_other_fields_of_the_patch_unsaved(api, team):
    before = api.settings(team)
    answer = api.patch(settings_path(team), {"policy_links_enabled": True,
                                             "privacy_policy_url": "ftp://team.example/privacy"}, token=team.token)
    assert answer.status_code == 400
    assert api.settings(team) == before


def test_null_clears_a_policy_url(api, team):
    api.patch(settings_path(team), {"privacy_policy_url": "https://team.example/privacy"}, token=team.token)
    answer = api.patch(settings_path(team), {"privacy_policy_url": None}, token=team.token)
    assert answer.status_code == 200
    assert answer.json_body["privacy_policy_url"] is None


def test_privacy_officer_can_be_a_member_of_the_team(api, team):
    api.add_member(team, "dpo", "dpo@team.example")
    answer = api.patch(settings_path(team), {"privacy_officer_id": "dpo"}, token=team.token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["privacy_officer_id"] == "dpo"


def test_privacy_officer_who_is_not_a_member_is_refused_with_422(api, team):
    answer = api.patch(settings_path(team), {"privacy_officer_id": "stranger"}, token=team.token)
    assert answer.status_code == 422
    error_shape(answer)
    assert api.settings(team)["privacy_officer_id"] is None


def test_privacy_officer_from_another_team_is_refused_with_422(api, team):
    other = api.new_team("Other", "admin@other.example")
    api.add_member(other, "dpo", "dpo@other.example")
    answer = api.patch(settings_path(team), {"privacy_officer_id": "dpo"}, token=team.token)
    assert answer.status_code == 422


def test_refused_privacy_officer_leaves_the_rest_of_the_patch_unsaved(api, team):
    before = api.state()
    answer = api.patch(settings_path(team), {"consent_text": "x", "privacy_officer_id": "stranger"},
                       token=team.token)
    assert answer.status_code == 422
    assert api.state() == before


def test_null_privacy_officer_clears_it(api, team):
    api.add_member(team, "dpo", "dpo@team.example")
    api.patch(settings_path(team), {"privacy_officer_id": "dpo"}, token=team.token)
    answer = api.patch(settings_path(team), {"privacy_officer_id": None}, token=team.token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["privacy_officer_id"] is None
    assert api.settings(team)["privacy_officer_id"] is None


def test_member_role_token_cannot_change_settings(api, team):
    token = api.add_member(team, "m1", "m1@team.example")
    before = api.state()
    answer = api.patch(settings_path(team), {"consent_capture_enabled": True}, token=token)
    assert answer.status_code == 403
    error_shape(answer)
    assert api.state() == before


def test_member_role_token_cannot_upsert_members(api, team):
    token = api.add_member(team, "m1", "m1@team.example")
    before = api.state()
    answer = api.put(f"/teams/{team.id}/members/m2", {"email": "m2@team.example", "name": "M2", "role": "admin"},
                     token=token)
    assert answer.status_code == 403
    assert api.state() == before


# --- framing and branding of the privacy page (issue 17) -------------------------------------------------------

def test_embed_origins_accept_https_origins(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"embed_origins": ["https://portal.example:8443"]},
                       token=team.token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["embed_origins"] == ["https://portal.example:8443"]


@pytest.mark.parametrize("origin", ["http://portal.example", "https://portal.example/path", "https://Portal.example",
                                    "https://*.example", "javascript:alert(1)"])
def test_embed_origins_refuse_anything_but_an_https_origin(api, team, origin):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"embed_origins": [origin]}, token=team.token)
    assert answer.status_code == 400
    assert answer.json_body["field"] == "body.embed_origins[0]"


def test_embed_origins_accept_a_loopback_origin_on_the_local_stage(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"embed_origins": ["http://127.0.0.1:8123"]},
                       token=team.token)
    assert answer.status_code == 200, answer.body


def test_embed_origins_refuse_a_loopback_origin_on_a_deployed_stage(team, monkeypatch):
    from chalicelib import branding, config

    monkeypatch.setattr(config, "stage", lambda: "prod")
    with pytest.raises(Exception, match="embed_origins"):
        branding.check_embed_origins(["http://127.0.0.1:8123"])


def test_an_accent_colour_with_enough_contrast_against_white_is_kept(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"accent_color": "#1a5fb4"}, token=team.token)
    assert answer.status_code == 200, answer.body
    assert answer.json_body["accent_color"] == "#1a5fb4"


def test_an_accent_colour_failing_wcag_aa_against_white_is_refused(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"accent_color": "#ffcc00"}, token=team.token)
    assert answer.status_code == 400
    assert "WCAG AA" in answer.json_body["Message"]


def test_the_contrast_ratio_is_wcag_s():
    from chalicelib.branding import contrast_with_white

    assert round(contrast_with_white("#000000"), 1) == 21.0
    assert round(contrast_with_white("#767676"), 2) == 4.54  # the lightest grey passing AA


def test_a_logo_url_must_be_https(api, team):
    answer = api.patch(f"/teams/{team.id}/privacy/settings", {"logo_url": "http://cdn.example/logo.png"},
                       token=team.token)
    assert answer.status_code == 400
