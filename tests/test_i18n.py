"""The reader's pages, the form and the API's messages in English, German and French; the console in English."""
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests import factories
from tests.conftest import comment_fields, form_tokens, sign_in

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "moderation" / "translations"
WORDS = {
    "en": ("Leave a Reply", "Your email address will not be published.", "Please enter a valid email address"),
    "de": ("Schreibe einen Kommentar", "Deine E-Mail-Adresse wird nicht veröffentlicht.",
           "Bitte gib eine gültige E-Mail-Adresse ein"),
    "fr": ("Laisser un commentaire", "Votre adresse e-mail ne sera pas publiée.",
           "Veuillez saisir une adresse e-mail valide"),
}


@pytest.fixture
def article(app):
    thread = factories.make_thread("article", "An article")
    factories.make_comment(thread, "approved", body="Already here.")
    return thread


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
def test_the_article_and_its_form_speak_the_readers_language(client, article, lang):
    headers = {"Accept-Language": f"{lang}-XX,{lang};q=0.9,en;q=0.5"}
    page = client.get("/threads/article", headers=headers).get_data(as_text=True)
    heading, not_published, bad_email = WORDS[lang]
    assert f'<html lang="{lang}">' in page and heading in page and not_published in page
    refused = client.post("/threads/article", headers=headers,
                          data={**form_tokens(page), **comment_fields(author_email="not an address")})
    assert refused.status_code == 422 and bad_email in refused.get_data(as_text=True)


MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November",
           "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
           "décembre"],
}


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
def test_dates_are_written_the_readers_way(client, article, lang):
    page = client.get(f"/threads/article?lang={lang}").get_data(as_text=True)
    written = re.search(r"<time[^>]*>([^<]+)</time>", page).group(1)
    assert MONTHS[lang][article.created_at.month - 1] in written and str(article.created_at.year) in written


def test_lang_in_the_address_wins_and_an_unknown_language_is_english(client, article):
    assert "Laisser un commentaire" in client.get("/threads/article?lang=fr", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Leave a Reply" in client.get("/threads/article", headers={"Accept-Language": "ja,zh;q=0.8"}).get_data(as_text=True)


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_the_api_answers_in_the_language_the_widget_asks_for(client, article, lang):
    token = client.get("/api/v1/threads/article/form").get_json()["token"]
    answer = client.post("/api/v1/threads/article/comments", headers={"Accept-Language": lang},
                         json={"author_name": "A", "author_email": "not an address", "body": "Text", "form_token": token})
    assert answer.status_code == 422 and WORDS[lang][2] in answer.get_json()["fields"]["author_email"]


def test_the_console_stays_english(client, moderator):
    assert "Sign in to moderate" in client.get("/moderation/login", headers={"Accept-Language": "de"}).get_data(as_text=True)
    sign_in(client)
    assert "Moderation" in client.get("/moderation/", headers={"Accept-Language": "fr"}).get_data(as_text=True)


def _sentences_in_the_sources():
    methods = [("moderation/**.py", "python"), ("templates/comments/**.html", "jinja2"),
               ("templates/base.html", "jinja2"), ("templates/error.html", "jinja2"),
               ("templates/subscriptions/**.html", "jinja2")]
    return {message for _, _, message, _, _ in extract_from_dir(str(ROOT), methods, keywords={"_": None, "gettext": None, "_l": None})
            if isinstance(message, str)}


@pytest.mark.parametrize("lang", ["de", "fr"])
def test_every_sentence_a_reader_sees_is_translated_and_compiled(lang):
    folder = TRANSLATIONS / lang / "LC_MESSAGES"
    with open(folder / "messages.po", "rb") as handle:
        po = {m.id: m.string for m in read_po(handle) if m.id}
    with open(folder / "messages.mo", "rb") as handle:
        mo = {m.id: m.string for m in read_mo(handle) if m.id}
    sentences = _sentences_in_the_sources()
    assert len(sentences) > 40
    untranslated = sorted(s for s in sentences if not po.get(s))
    assert not untranslated, f"{lang}: translate these (make translations): {untranslated[:5]}"
    assert mo == po, f"{lang}: messages.mo is older than messages.po; run make translations"
    for message, translation in po.items():
        assert re.findall(r"%\(\w+\)s", message) == re.findall(r"%\(\w+\)s", translation), (lang, message)


def test_outside_a_request_sentences_are_english(app, article):
    """A worker or a command has no reader: the services' sentences come out in English, not as an error."""
    from moderation.comments import services
    article.comments_open = False
    with pytest.raises(services.CommentsClosed, match="Comments are closed on this article."):
        services.post_comment(article, author_name="A", author_email="a-reader@example.org", author_url="", body="B",
                              parent_id=None, honeypot="", ip="192.0.2.1", user_agent="")
