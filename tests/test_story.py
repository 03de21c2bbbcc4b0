"""The seed's story end to end, through HTTP and the stream records moto itself produced."""


def test_erasure_story_from_settings_to_client_notice(api, team):
    officer_token = api.add_member(team, "dpo", "dpo@team.example")
    answer = api.patch(f"/teams/{team.id}/privacy/settings",
                       {"consent_capture_enabled": True, "consent_text": "I agree.", "privacy_officer_id": "dpo"},
                       token=team.token)
    assert answer.status_code == 200, answer.body
    kept = api.new_dossier(team, "bob@client.example", consent={"accepted": True})
    dossier = api.new_dossier(team, "Alice@Client.example ", consent={"accepted": True})
    api.add_document(team, dossier["dossier_id"])

    submitted = api.submit(team, "alice@client.example")
    assert submitted.status_code == 202
    assert submitted.json_body["status"] == "awaiting_verification"
    api.pump()
    verify_link = api.last_link_to("alice@client.example", "/portal/privacy/verify/")
    assert api.get(verify_link).status_code == 200
    api.pump()

    officer_mail = api.mail_to("dpo@team.example")
    assert len(officer_mail) == 1
    action = api.last_link_to("dpo@team.example", "/actions/")
    assert api.get(action).status_code == 200
    done = api.post(action, raw=b"", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 202, done.body  # being carried out
    api.pump()  # the worker, then the stream

    request_id = submitted.json_body["request_id"]
    final = api.get(f"/teams/{team.id}/privacy/requests/{request_id}", token=officer_token).json_body
    assert final["status"] == "completed"
    assert final["result"] == {"dossiers_deleted": 1, "documents_deleted": 1, "exports_deleted": 0}
    notices = [m for m in api.mail_to("alice@client.example") if "deleted" in m["subject"]]
    assert len(notices) == 1
    assert api.get(f"/teams/{team.id}/dossiers/{kept['dossier_id']}", token=team.token).status_code == 200
    assert api.get(f"/teams/{team.id}/dossiers/{dossier['dossier_id']}", token=team.token).status_code == 404
