"""Issue 9 §3: operations without writing Python. `python -m chalicelib.cli` creates a team, mints a member's
token, rotates the token key and shows a request; driven here in-process against moto."""
import json
import subprocess
import sys

import boto3
import jwt
import pytest

from chalicelib import cli, signing_keys, tokens
from devtools.stage_env import ROOT

STRONG = "k1-9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def run(capsys, *argv) -> tuple[int, str, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def lines(out: str) -> dict:
    return dict(line.split(": ", 1) for line in out.strip().splitlines())


def test_create_team_prints_the_team_its_admin_and_a_token_that_works(api, capsys):
    status, out, _ = run(capsys, "create-team", "--name", "Acme", "--admin-email", "Ada@Acme.example",
                         "--admin-name", "Ada Admin")
    assert status == 0
    printed = lines(out)
    answer = api.get(f"/teams/{printed['team_id']}/privacy/settings", token=printed["admin_token"])
    assert answer.status_code == 200, answer.body
    assert tokens.read(printed["admin_token"], tokens.BEARER)["sub"] == printed["member_id"]


def test_token_mints_a_bearer_token_for_a_member_with_that_members_role(api, team, capsys):
    api.add_member(team, "svc", "svc@team.example")
    status, out, _ = run(capsys, "token", "--team", team.id, "--member", "svc")
    assert status == 0
    token = out.strip()
    assert api.get(f"/teams/{team.id}/privacy/settings", token=token).status_code == 200
    assert api.patch(f"/teams/{team.id}/privacy/settings", {"locale": "fr"}, token=token).status_code == 403


def test_token_for_an_unknown_member_fails_with_a_message_not_a_traceback(api, team, capsys):
    status, out, err = run(capsys, "token", "--team", team.id, "--member", "nobody")
    assert status == 1 and out == ""
    assert "does not exist" in err


def test_show_request_prints_the_request_view_as_json(api, team, capsys):
    request_id = api.verified_request(team, "alice@client.example")
    status, out, _ = run(capsys, "show-request", "--team", team.id, "--request", request_id)
    assert status == 0
    shown = json.loads(out)
    assert shown == api.get(f"/teams/{team.id}/privacy/requests/{request_id}", token=team.token).json_body
    assert shown["status"] == "pending"


def test_rotate_key_makes_a_new_current_and_keeps_the_old_as_previous(api, capsys, monkeypatch):
    client = boto3.client("secretsmanager")
    arn = client.create_secret(Name="privacy-desk/token-key", SecretString=STRONG)["ARN"]
    monkeypatch.setenv("TOKEN_SECRET_ARN", arn)
    signing_keys.reset()
    team = api.new_team()
    status, out, _ = run(capsys, "rotate-key")
    assert status == 0
    kid = lines(out)["kid"]
    stored = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])
    assert stored["current"]["kid"] == kid and stored["previous"]["key"] == STRONG
    signing_keys.reset()
    assert api.get(f"/teams/{team.id}/privacy/settings", token=team.token).status_code == 200  # old token
    status, out, _ = run(capsys, "token", "--team", team.id, "--member", team.admin_id)
    assert jwt.get_unverified_header(out.strip())["kid"] == kid
    signing_keys.reset()


def test_rotate_key_without_a_secret_arn_says_what_is_missing(aws, monkeypatch, capsys):
    monkeypatch.delenv("TOKEN_SECRET_ARN", raising=False)
    with pytest.raises(SystemExit, match="TOKEN_SECRET_ARN"):
        cli.main(["rotate-key"])


def test_stage_reads_that_stages_variables_and_local_points_at_the_embedded_aws():
    env = {"MOTO_PORT": "6001", "TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-3:1:secret:x",
           "TOKEN_SECRET": "a-secret-of-the-shell"}
    cli.use_stage("local", env, ROOT)
    assert env["MEMBERS_TABLE"] == "privacy-desk-local-members"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:6001"
    assert "TOKEN_SECRET_ARN" not in env  # local signs with its own TOKEN_SECRET, as `make run` checks it
    assert env["TOKEN_SECRET"] == "local-only-secret-not-for-deployment"
    prod = {"TOKEN_SECRET_ARN": "arn:aws:secretsmanager:eu-west-3:1:secret:x", "AWS_DEFAULT_REGION": "eu-west-3"}
    cli.use_stage("prod", prod, ROOT)
    assert prod["MEMBERS_TABLE"] == "privacy-desk-prod-members" and prod["STAGE"] == "prod"
    assert prod["TOKEN_SECRET_ARN"] == "arn:aws:secretsmanager:eu-west-3:1:secret:x"  # yours wins over the file
    assert "AWS_ENDPOINT_URL" not in prod


def test_the_cli_runs_as_a_module_without_chalice():
    probe = ("import sys, runpy; sys.argv = ['cli', '--help']\n"
             "try:\n    runpy.run_module('chalicelib.cli', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('chalice' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert "create-team" in out.stdout and "rotate-key" in out.stdout
    assert out.stdout.strip().endswith("False"), out.stdout
