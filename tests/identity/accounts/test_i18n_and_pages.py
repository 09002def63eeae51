from babel.messages.pofile import read_po
from starlette.requests import Request

from identity.web import i18n
from identity.web.forms import safe_next
from scripts.dev.extract_messages import message_ids


def test_every_message_has_a_traditional_chinese_translation():
    with (i18n.LOCALES_DIR / "zh_Hant_HK" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)
    missing = [m for m in message_ids() if not (catalog.get(m) and catalog.get(m).string)]
    assert missing == []
    assert i18n.gettext(i18n.CHINESE, "Sign in") == "登入"
    assert i18n.gettext(i18n.ENGLISH, "Sign in") == "Sign in"


def _request(query: str = "", headers: dict[str, str] | None = None) -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return Request({"type": "http", "query_string": query.encode(), "headers": raw})


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


def test_safe_next():
    assert safe_next("/authorize/continue?x=1") == "/authorize/continue?x=1"
    for bad in (None, "", "//evil", "/\\evil", "https://evil", "evil", "/a\nb", "/" + "a" * 3000):
        assert safe_next(bad) == "/account"


def test_pages_have_security_headers_and_accessible_markup(browser):
    page = browser.get("/enrol")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    for field in ("hkid", "name", "birthdate", "address", "phone", "email", "password"):
        assert f'<label for="{field}">' in page.text
    assert 'href="#main"' in page.text and "<main" in page.text
    assert "e-Gateway" in page.text and "電子通道" in page.text
    assert browser.get("/static/egate.css").status_code == 200
    set_cookie = page.headers["set-cookie"]
    assert "egate_csrf=" in set_cookie and "HttpOnly" in set_cookie
