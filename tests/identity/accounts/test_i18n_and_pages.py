from identity.web.forms import safe_next
from identity.web.messages import message_for
from kit.i18n import CATALOGUES, CHINESE, ENGLISH


def test_messages_are_translated_through_the_one_catalogue():
    # completeness of the catalogue is tests/kit/test_catalogue.py's
    assert CATALOGUES.gettext(CHINESE, "Sign in") == "登入"
    assert CATALOGUES.gettext(CHINESE, message_for("no.such.code")) == "此欄位的資料有問題。"
    assert CATALOGUES.gettext(ENGLISH, "Sign in") == "Sign in"


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
    stylesheet = browser.get("/static/egate.css")
    # one stylesheet for every service: secondary actions ("Do not share") look secondary
    assert stylesheet.status_code == 200 and ".button.secondary" in stylesheet.text
    assert 'rel="icon" href="/static/favicon.svg"' in page.text
    assert browser.get("/static/favicon.svg").headers["content-type"].startswith("image/svg+xml")
    set_cookie = page.headers["set-cookie"]
    assert "egate_csrf=" in set_cookie and "HttpOnly" in set_cookie
