"""The gettext catalogs: every language offered is complete, up to date with the templates, and compiled.

`make i18n` regenerates them; these tests fail when someone forgot to run it, or left a sentence untranslated."""
import os
import re
import shutil
import subprocess

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from chalicelib import languages, templating

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def forms(text) -> tuple:
    """A message's text as a tuple of forms: one for a plain message, one per plural form otherwise."""
    return tuple(text) if isinstance(text, (list, tuple)) else (text,)


def catalog(locale: str):
    with open(os.path.join(templating.CATALOGS, locale, "LC_MESSAGES", "messages.po"), "rb") as f:
        return read_po(f, locale=locale)


def test_a_language_is_offered_once_its_compiled_catalog_is_there(tmp_path, monkeypatch):
    """Adding a language is adding a catalog: no list in code to edit. A catalog not yet compiled isn't one."""
    shutil.copytree(templating.CATALOGS, tmp_path / "locale")
    shutil.copytree(tmp_path / "locale" / "fr", tmp_path / "locale" / "xx")
    os.makedirs(tmp_path / "locale" / "yy" / "LC_MESSAGES")
    monkeypatch.setattr(templating, "CATALOGS", str(tmp_path / "locale"))
    assert templating._discover_locales() == ("en", *sorted({*templating.LOCALES[1:], "xx"}))


def test_every_language_with_a_catalog_can_be_asked_for_and_no_other():
    for locale in templating.LOCALES:
        assert languages.check(locale, "body.locale") == locale
    with pytest.raises(Exception, match="body.locale"):
        languages.check("xx", "body.locale")


def test_english_is_the_default_and_comes_first():
    assert templating.DEFAULT_LOCALE == templating.LOCALES[0] == "en"


def test_every_language_offered_has_a_catalog_and_no_other():
    assert set(os.listdir(templating.CATALOGS)) - {"messages.pot"} == set(templating.LOCALES)


@pytest.mark.parametrize("locale", templating.LOCALES)
def test_every_sentence_is_translated_and_none_is_fuzzy(locale):
    messages = [m for m in catalog(locale) if m.id]
    assert messages
    assert [m.id for m in messages if not all(forms(m.string))] == []
    assert [m.id for m in messages if m.fuzzy] == []


@pytest.mark.parametrize("locale", templating.LOCALES)
def test_a_translation_keeps_the_placeholders_of_its_source(locale):
    """Every form of a translation, plural forms included, has the source's placeholders (a plural's are its
    msgid_plural's, which names the count)."""
    for message in catalog(locale):
        if message.id:
            source = sorted(PLACEHOLDER.findall(forms(message.id)[-1]))
            for form in forms(message.string):
                assert sorted(PLACEHOLDER.findall(form)) == source, message.id


def test_make_i18n_would_change_nothing(tmp_path):
    """The committed .pot, .po and .mo files are what `make i18n` makes from today's templates."""
    work = tmp_path / "locale"
    shutil.copytree(templating.CATALOGS, work)
    subprocess.run(["make", "-s", "--no-print-directory", "i18n", f"I18N={work}"], cwd=ROOT, check=True,
                   capture_output=True)
    for folder, _, files in os.walk(templating.CATALOGS):
        for name in files:
            committed = os.path.join(folder, name)
            made = work / os.path.relpath(committed, templating.CATALOGS)
            with open(committed, "rb") as a, open(made, "rb") as b:
                assert a.read() == b.read(), f"{committed} is stale: run make i18n"


@pytest.mark.parametrize("locale", templating.LOCALES)
def test_the_compiled_catalog_is_the_one_rendering_uses(locale):
    """Nothing compiles at cold start: the .mo ships beside its .po and holds every translation."""
    with open(os.path.join(templating.CATALOGS, locale, "LC_MESSAGES", "messages.mo"), "rb") as f:
        compiled = {forms(m.id): forms(m.string) for m in read_mo(f) if m.id}
    assert compiled == {forms(m.id): forms(m.string) for m in catalog(locale) if m.id}
