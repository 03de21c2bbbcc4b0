"""A deployed stage never signs or checks a token with a secret anyone could know or guess."""
import pytest

from chalicelib import config, tokens

STRONG = "Vq3xT9pL0sZkR7wYb2NcHf5UjM8eGd4A-_aQ1iWoE6"
WEAK = {
    "the committed placeholder": "replace-me-with-a-long-random-secret",
    "the placeholder in capitals": "REPLACE-ME-WITH-A-LONG-RANDOM-SECRET",
    "the local stage's secret": "local-only-secret-not-for-deployment",
    "a changeme": "changeme-changeme-changeme-changeme-1234",
    "shorter than 32 characters": "Vq3xT9pL0sZkR7wYb2NcHf5UjM8eGd4",
    "too few distinct characters": "abababababababababababababababababababab",
    "one character repeated": "x" * 64,
}


@pytest.fixture
def stage(monkeypatch):
    def use(name: str, secret: str):
        monkeypatch.setenv("STAGE", name)
        monkeypatch.setenv("TOKEN_SECRET", secret)
    return use


@pytest.mark.parametrize("secret", WEAK.values(), ids=WEAK.keys())
def test_a_deployed_stage_refuses_a_weak_secret(stage, secret):
    stage("dev", secret)
    with pytest.raises(config.WeakSecret, match="TOKEN_SECRET"):
        config.token_secret()


def test_a_deployed_stage_accepts_a_strong_secret(stage):
    stage("prod", STRONG)
    assert config.token_secret() == STRONG


def test_a_hex_secret_of_32_bytes_is_strong(stage):
    stage("dev", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
    assert config.token_secret().startswith("9f86")


def test_the_local_stage_keeps_its_local_secret(stage):
    stage("local", "local-only-secret-not-for-deployment")
    assert config.token_secret() == "local-only-secret-not-for-deployment"


def test_no_token_is_signed_with_a_weak_secret_in_a_deployed_stage(stage):
    stage("dev", "replace-me-with-a-long-random-secret")
    with pytest.raises(config.WeakSecret):
        tokens.bearer_for("t_1", "m_1", "g_1")


def test_no_token_is_accepted_with_a_weak_secret_in_a_deployed_stage(stage):
    stage("local", "replace-me-with-a-long-random-secret")
    token = tokens.bearer_for("t_1", "m_1", "g_1")  # signed with the placeholder, as an attacker would
    stage("dev", "replace-me-with-a-long-random-secret")
    with pytest.raises(config.WeakSecret):
        tokens.read(token, tokens.BEARER)


def test_a_deployed_stage_refuses_a_weak_log_hash_key(stage, monkeypatch):
    stage("dev", STRONG)
    monkeypatch.setenv("LOG_HASH_KEY", "logs")
    with pytest.raises(config.WeakSecret, match="LOG_HASH_KEY"):
        config.log_hash_key()


def test_without_its_own_log_hash_key_a_stage_hashes_logs_with_its_token_secret(stage, monkeypatch):
    stage("dev", STRONG)
    monkeypatch.delenv("LOG_HASH_KEY", raising=False)
    assert config.log_hash_key() == STRONG
