from babel.messages.pofile import read_po

from identity.web.forms import safe_next
from identity.web.i18n import CATALOGUES
from kit.i18n import CHINESE, ENGLISH
from scripts.dev.extract_messages import message_ids


def test_every_message_has_a_traditional_chinese_translation():
    with CATALOGUES.po_file(CHINESE).open("rb") as handle:
        catalog = read_po(handle)
    missing = [m for m in message_ids() if not (catalog.get(m) and catalog.get(m).string)]
    assert missing == []
    assert CATALOGUES.gettext(CHINESE, "Sign in") == "登入"
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
