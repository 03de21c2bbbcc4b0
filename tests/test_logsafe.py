"""Log records never show a client's address or a token, in any script or encoding, and scrubbing them leaves
other libraries' logging filters working (they read `record.args`)."""
import logging

import pytest
from chalice.cli.factory import LargeRequestBodyFilter

from chalicelib import logsafe

ADDRESSES = {
    "ascii": "alice@client.example",
    "upper case": "ALICE@Client.Example",
    "latin accents": "jöhn@exämple.fr",
    "decomposed accents": "jo\u0308hn@exa\u0308mple.fr",
    "chinese": "用户@例子.广告",
    "ideographic full stops": "用户@例子。广告",
    "devanagari": "हिन्दी@उदाहरण.भारत",
    "punycode domain": "alice@xn--exmple-cua.fr",
    "punycode chinese domain": "用户@xn--fsqu00a.xn--4rr70v",
    "url-encoded": "alice%40client.example",
    "url-encoded plus-tag": "alice%2Btag%40client.example",
    "full-width at sign": "alice＠client.example",
}


class Captured(logging.Handler):
    """What a handler receives: the formatted text of every record."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records, self.lines = [], []

    def emit(self, record):
        try:
            self.lines.append(self.format(record))
            self.records.append(record)
        except Exception:  # noqa: BLE001 — what every logging handler does
            self.handleError(record)


@pytest.fixture
def logger():
    logsafe.install()
    handler = Captured()
    log = logging.getLogger("tests.logsafe")
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    log.propagate = False
    yield log, handler
    log.removeHandler(handler)


class OperationModel:
    """Like botocore's: Chalice's filter reads `.name` of the first argument."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"OperationModel(name={self.name})"


@pytest.mark.parametrize("address", ADDRESSES.values(), ids=ADDRESSES.keys())
def test_an_address_in_any_script_or_encoding_becomes_its_pseudonym(logger, address):
    log, handler = logger
    log.info("sending to %s", address)
    log.info(f"message for {address} queued")
    text = "\n".join(handler.lines)
    assert address not in text
    assert address.split("@")[0].split("%40")[0].split("＠")[0] not in text  # not even the mailbox's name
    assert text.count("email:") == 2


def test_an_address_keeps_one_pseudonym_whatever_its_spelling():
    spellings = ["jöhn@exämple.fr", "JÖHN@EXÄMPLE.FR", "jöhn@xn--exmple-cua.fr", "jo\u0308hn@exa\u0308mple.fr",
                 "jöhn%40exämple.fr"]
    assert {logsafe.scrub(s) for s in spellings} == {logsafe.pseudonym("jöhn@exämple.fr")}
    assert logsafe.scrub("用户@xn--fsqu00a.xn--4rr70v") == logsafe.scrub("用户@例子。广告") == \
        logsafe.pseudonym("用户@例子.广告")


def test_an_ascii_address_keeps_the_pseudonym_it_always_had():
    from chalicelib import config, ids

    expected = "email:" + ids.keyed_hash("alice@client.example", config.token_secret())[:16]
    assert logsafe.scrub("to Alice@Client.example.") == f"to {expected}."


def test_chalices_request_body_filter_works_on_a_scrubbed_record(logger):
    log, handler = logger
    handler.addFilter(LargeRequestBodyFilter())
    operation = OperationModel("CreateFunction")
    log.debug("Making request for %s with params: %s", operation, {"body": {"ZipFile": "UEsDB..."}})
    record = handler.records[-1]
    assert record.args[0] is operation
    assert handler.lines[-1] == ("Making request for OperationModel(name=CreateFunction) with params: "
                                 "(... omitted from logs due to size ...)")


def test_chalices_filter_still_sees_the_operation_when_the_params_carry_an_address(logger):
    log, handler = logger
    handler.addFilter(LargeRequestBodyFilter())
    params = {"body": {"Destinations": ["alice@client.example"]}}
    log.debug("Making request for %s with params: %s", OperationModel("SendRawEmail"), params)
    assert handler.records[-1].args[0].name == "SendRawEmail"
    assert "alice@client.example" not in handler.lines[-1]
    assert logsafe.pseudonym("alice@client.example") in handler.lines[-1]


def test_arguments_without_personal_data_keep_their_shape_and_types(logger):
    log, handler = logger
    operation, params = OperationModel("GetItem"), {"TableName": "privacy-desk-local-requests"}
    log.info("%s on %r took %d ms (%.1f%%)", "GetItem", params, 12, 99.5)
    log.info("%s %s", operation, params)
    assert handler.records[0].args == ("GetItem", params, 12, 99.5)
    assert handler.records[1].args[0] is operation and handler.records[1].args[1] is params


def test_string_arguments_are_scrubbed_in_place(logger):
    log, handler = logger
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXRoZXJl"
    log.info("link %s for %s (%d)", token, "alice@client.example", 3)
    assert handler.records[0].args == ("[token]", logsafe.pseudonym("alice@client.example"), 3)


def test_mapping_arguments_are_scrubbed_in_place(logger):
    log, handler = logger
    log.info("%(who)s asked %(count)d times", {"who": "alice@client.example", "count": 2})
    assert handler.records[0].args == {"who": logsafe.pseudonym("alice@client.example"), "count": 2}
    assert handler.lines[0] == f"{logsafe.pseudonym('alice@client.example')} asked 2 times"


def test_an_object_argument_that_shows_an_address_is_scrubbed_for_str_and_repr(logger):
    log, handler = logger
    error = ValueError("no mailbox alice@client.example")
    log.info("failed: %s / %r", error, error)
    assert "alice@client.example" not in handler.lines[0]
    assert handler.lines[0].count(logsafe.pseudonym("alice@client.example")) == 2


def test_an_address_split_across_arguments_is_still_scrubbed(logger):
    log, handler = logger
    log.info("%s@%s", "alice", "client.example")
    assert "alice@client.example" not in handler.lines[0]


def test_a_non_string_message_that_shows_an_address_is_scrubbed(logger):
    log, handler = logger
    log.error(ValueError("bounced: alice@client.example"))
    assert handler.lines[0] == f"bounced: {logsafe.pseudonym('alice@client.example')}"


def test_a_bad_format_string_fails_in_the_handler_not_at_the_call_site(logger, monkeypatch):
    log, handler = logger
    reported = []
    monkeypatch.setattr(handler, "handleError", reported.append)
    monkeypatch.setattr(log, "handlers", [handler])  # pytest's own capture handlers fail any bad format
    log.info("%d items", "many")  # logging's own behaviour: the handler reports it, the caller goes on
    assert len(reported) == 1


def test_without_a_usable_secret_an_address_is_still_hidden(monkeypatch):
    monkeypatch.setenv("STAGE", "dev")
    monkeypatch.setenv("TOKEN_SECRET", "replace-me-with-a-long-random-secret")
    monkeypatch.delenv("LOG_HASH_KEY", raising=False)
    assert logsafe.scrub("to alice@client.example") == "to email:[unkeyed]"
