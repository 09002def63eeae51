from datetime import UTC, datetime
from pathlib import Path

from jinja2 import DictLoader
from starlette.requests import Request
from starlette.responses import Response

from kit import i18n
from kit.i18n import Catalogues, hong_kong_time

PO = """
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\\n"

msgid "Sign in"
msgstr "登入"

msgctxt "submission status"
msgid "Submitted"
msgstr "已提交"

msgid "Submitted"
msgstr "提交日期"

msgid "Hello %(name)s"
msgstr "你好 %(name)s"
"""


def _request(query: str = "", headers: dict[str, str] | None = None, path: str = "/page") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "path": path, "query_string": query.encode(), "headers": raw})


def _catalogues(tmp_path: Path) -> Catalogues:
    folder = tmp_path / "zh_Hant_HK" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "messages.po").write_text(PO, encoding="utf-8")
    return Catalogues(tmp_path)


def test_language_choice():
    assert i18n.choose_language(_request()) == "en"
    assert i18n.choose_language(_request("ui_locales=zh-CN%20zh")) == "zh-HK"
    assert i18n.choose_language(_request("ui_locales=zh-Hans")) == "en"
    assert (
        i18n.choose_language(_request(headers={"Accept-Language": "ja;q=0.9, zh-TW;q=0.8, en;q=0.1"}))
        == "zh-HK"
    )
    assert i18n.choose_language(_request(headers={"Accept-Language": "zh-HK;q=0, en"})) == "en"
    cookie = _request("ui_locales=en", {"Cookie": "lang=zh-HK"})
    assert i18n.choose_language(cookie) == "zh-HK"
    assert i18n.choose_language(_request("lang=en", {"Cookie": "lang=zh-HK"})) == "en"


def test_tags_are_matched_to_the_two_page_languages():
    for tag in ("zh", "zh-HK", "zh_Hant_HK", "zh-Hant", "zh-TW", "ZH-hk"):
        assert i18n.match_language(tag) == i18n.CHINESE
    for tag in ("en", "en-GB", "en-us"):
        assert i18n.match_language(tag) == i18n.ENGLISH
    for tag in ("zh-Hans", "zh-CN", "zh-SG", "fr", "", None, "x-klingon"):
        assert i18n.match_language(tag) is None
    assert i18n.choose_language(_request(headers={"Accept-Language": "fr, de;q=bad"})) == i18n.DEFAULT


def test_catalogues_translate_with_and_without_a_context(tmp_path):
    catalogues = _catalogues(tmp_path)
    assert catalogues.gettext(i18n.CHINESE, "Sign in") == "登入"
    assert catalogues.gettext(i18n.CHINESE, "Submitted") == "提交日期"
    assert catalogues.pgettext(i18n.CHINESE, "submission status", "Submitted") == "已提交"
    assert catalogues.gettext(i18n.CHINESE, "Not in the catalogue") == "Not in the catalogue"
    # English has no catalogue: the msgid is the text.
    assert catalogues.gettext(i18n.ENGLISH, "Sign in") == "Sign in"
    assert catalogues.pgettext(i18n.ENGLISH, "submission status", "Submitted") == "Submitted"
    assert catalogues.translations(i18n.CHINESE) is catalogues.translations(i18n.CHINESE)


def test_page_environment_translates_and_still_escapes_values(tmp_path):
    catalogues = _catalogues(tmp_path)
    loader = DictLoader(
        {"page.html": '{{ _("Sign in") }}|{{ _("Hello %(name)s", name=who) }}|{{ LANGUAGE_NAMES["zh-HK"] }}'}
    )
    zh = i18n.page_environment(loader, catalogues.translations(i18n.CHINESE))
    assert zh.get_template("page.html").render(who="<b>") == "登入|你好 &lt;b&gt;|繁體中文"
    en = i18n.page_environment(loader, catalogues.translations(i18n.ENGLISH))
    assert en.get_template("page.html").render(who="Chan") == "Sign in|Hello Chan|繁體中文"


def test_switch_urls_keep_the_query_but_the_language_and_dropped_names():
    request = _request("a=1&a=2&lang=en&notice=saved")
    assert i18n.language_switch_urls(request) == {
        "en": "/page?a=1&a=2&notice=saved&lang=en",
        "zh-HK": "/page?a=1&a=2&notice=saved&lang=zh-HK",
    }
    assert i18n.language_switch_urls(request, drop=("notice",))["zh-HK"] == "/page?a=1&a=2&lang=zh-HK"


def test_the_language_cookie_is_set_only_on_an_explicit_choice():
    response = Response()
    i18n.remember_language(_request("lang=zh-HK"), response, i18n.CHINESE, secure=True)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lang=zh-HK;") and "Secure" in cookie and "SameSite=lax" in cookie
    untouched = Response()
    i18n.remember_language(
        _request(headers={"Accept-Language": "zh-HK"}), untouched, i18n.CHINESE, secure=True
    )
    assert "set-cookie" not in untouched.headers


def test_times_are_shown_in_hong_kong_time_from_a_datetime_or_an_iso_string():
    moment = datetime(2026, 12, 1, 17, 30, 5, tzinfo=UTC)
    assert hong_kong_time(moment) == "2026-12-02 01:30"
    assert hong_kong_time(moment.isoformat(), with_seconds=True) == "2026-12-02 01:30:05"
    assert hong_kong_time("2026-12-01T17:30:05") == "2026-12-02 01:30"  # naive: UTC
    assert hong_kong_time(None) == hong_kong_time("") == ""


def test_messages_sent_in_both_languages_come_from_the_one_catalogue():
    assert i18n.bilingual("Attach {label}", label={"en": "Photos", "zh-HK": "相片"}) == {
        "en": "Attach Photos",
        "zh-HK": "請附上相片",
    }
    assert i18n.in_both("e-Gateway password reset", " / ") == "e-Gateway password reset / 重設密碼"
    assert i18n.in_both("Not in the catalogue {n}", n=1) == "Not in the catalogue 1\nNot in the catalogue 1"
    assert i18n.department_name(i18n.CATALOGUES.translations(i18n.CHINESE), "fehd") == "食物環境衞生署"
