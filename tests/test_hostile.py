"""The hostile fuzz phase's judge (devtools/hostile.py): what makes an email SES accepted dishonest."""
from chalicelib import mailer
from devtools import hostile

MEANT = {"alice@client.example"}


def raw(headers: str) -> bytes:
    return (headers.strip() + "\n\nbody\n").encode()


def test_what_the_mailer_writes_for_a_plain_address_passes():
    message = mailer.build(["alice@client.example"], "Your request", "text", "<p>html</p>")
    assert hostile.problems(message, ["alice@client.example"], MEANT) == []


def test_a_bcc_header_is_reported_with_its_recipient():
    found = hostile.problems(raw("From: p@x.example\nTo: alice@client.example\nBcc: x@evil.example\nSubject: s"),
                             [], MEANT)
    assert "has a Bcc header" in found
    assert "extra recipient in the headers: 'x@evil.example'" in found


def test_a_cc_header_is_reported_even_to_a_meant_address():
    found = hostile.problems(raw("From: p@x.example\nTo: alice@client.example\nCc: alice@client.example"), [], MEANT)
    assert found == ["extra header Cc", "has a Cc header"]


def test_a_header_the_mailer_does_not_write_is_reported():
    found = hostile.problems(raw("From: p@x.example\nTo: alice@client.example\nX-Injected: 1"), [], MEANT)
    assert found == ["extra header X-Injected"]


def test_a_second_address_in_the_to_header_is_reported():
    found = hostile.problems(raw("From: p@x.example\nTo: alice@client.example, x@evil.example"), [], MEANT)
    assert found == ["extra recipient in the headers: 'x@evil.example'"]


def test_an_envelope_recipient_nobody_submitted_is_reported():
    found = hostile.problems(raw("From: p@x.example\nTo: alice@client.example"),
                             ["alice@client.example", "x@evil.example"], MEANT)
    assert found == ["extra envelope recipient: 'x@evil.example'"]


def test_a_recipient_written_as_an_encoded_word_is_reported():
    found = hostile.problems(raw("From: p@x.example\nTo: =?utf-8?q?j=C3=B6hn?=@example.fr"), [],
                             hostile.normalised_forms("jöhn@example.fr"))
    assert found == ["a recipient address holds an RFC 2047 encoded word: '=?utf-8?q?j=C3=B6hn?=@example.fr'"]


def test_a_submitted_address_is_meant_in_its_trimmed_lower_case_form():
    assert "alice.b+x@client.example" in hostile.normalised_forms("  Alice.B+x@CLIENT.example ")


def test_an_idn_address_is_meant_with_its_domain_in_punycode_too():
    assert {"a@exämple.fr", "a@xn--exmple-cua.fr"} <= hostile.normalised_forms("a@exämple.fr")


def test_every_payload_has_its_own_name_within_its_list():
    for payloads in (hostile.ADDRESSES, hostile.TEXTS, hostile.FILENAMES):
        names = [name for name, _ in payloads]
        assert len(names) == len(set(names))
