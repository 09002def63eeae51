"""The demo mailbox: in demo mode on a developer's machine, the outbox as a page (codes and
all) with links to it wherever a code is sent; anywhere else, no such page and no link."""

from __future__ import annotations

import re
from dataclasses import replace

from identity.mailbox.routes import MAILBOX_PATH
from tests.identity.accounts.factories import Browser, FrozenClock, enrolment_form, latest_code

PHONE = "+85291234567"  # enrolment_form's "9123 4567"
CODE_PAGES = ["/enrol", "/reset", "/activate"]


def demo(runtime, **settings):
    """The runtime `egate serve --demo` builds on a developer's machine."""
    update = {"demo": True, "issuer": "http://127.0.0.1:8000", **settings}
    return replace(runtime, settings=runtime.settings.model_copy(update=update))


def cards(html: str) -> list[str]:
    return html.split('class="card mailbox-message"')[1:]


def test_the_mailbox_shows_what_enrolment_sent_newest_first_in_both_languages(runtime, db):
    runtime.clock = FrozenClock()  # 2025-03-01 09:00 UTC
    browser = Browser(demo(runtime))
    form = enrolment_form()
    assert browser.post("/enrol", form, follow_redirects=False).status_code == 303
    page = browser.get(f"{MAILBOX_PATH}?lang=en")
    assert page.status_code == 200 and 'id="demo-mailbox-notice"' in page.text
    assert "This is a demo mailbox." in page.text
    sms, email = cards(page.text)  # the phone's code was queued after the email's
    assert PHONE in sms and "SMS" in sms and latest_code(db, runtime, PHONE) in sms
    assert form["email"] in email and "Email" in email and latest_code(db, runtime, form["email"]) in email
    assert "Time (Hong Kong time)" in email and "2025-03-01 17:00:00" in email
    chinese = browser.get(f"{MAILBOX_PATH}?lang=zh-HK").text
    assert "示範郵箱" in chinese and "這是示範郵箱" in chinese
    assert "短訊" in cards(chinese)[0] and "時間（香港時間）" in cards(chinese)[0]
    # A notice goes out in both languages; each half is marked with its own.
    subject = re.search(r'<h2 class="mailbox-subject">(.*?)</h2>', cards(chinese)[1]).group(1)
    assert '<span lang="en">e-Gateway verification code</span>' in subject
    assert re.search(r'<span lang="zh-Hant-HK">[^<]*驗證碼[^<]*</span>', subject)
    assert '<p lang="en">Your e-Gateway verification code is' in cards(chinese)[1]


def test_an_empty_mailbox_says_what_fills_it(runtime):
    page = Browser(demo(runtime)).get(MAILBOX_PATH)
    assert page.status_code == 200 and 'id="mailbox-empty"' in page.text and not cards(page.text)


def test_every_page_that_sends_a_code_links_to_the_mailbox_in_demo_mode(runtime):
    browser = Browser(demo(runtime))
    for path in CODE_PAGES:
        assert f'href="{MAILBOX_PATH}"' in browser.get(path).text, path
    assert f'href="{MAILBOX_PATH}"' in browser.post("/reset", {"identifier": "nobody@example.hk"}).text
    browser.post("/enrol", enrolment_form())
    verify = browser.get("/account/verify/email?lang=zh-HK")
    assert f'href="{MAILBOX_PATH}"' in verify.text and "示範：開啟郵箱查看驗證碼" in verify.text


def test_outside_demo_mode_there_is_no_mailbox_and_no_link(runtime):
    assert not runtime.settings.demo
    browser = Browser(runtime)
    assert browser.get(MAILBOX_PATH).status_code == 404
    for path in CODE_PAGES:
        assert MAILBOX_PATH not in browser.get(path).text, path
    assert MAILBOX_PATH not in browser.post("/reset", {"identifier": "nobody@example.hk"}).text
    browser.post("/enrol", enrolment_form())
    assert MAILBOX_PATH not in browser.get("/account/verify/email").text


def test_demo_mode_on_an_address_others_reach_opens_no_mailbox(runtime):
    """`--demo` by mistake on a deployment must not show residents' codes to the world."""
    browser = Browser(demo(runtime, issuer="https://id.example.gov.hk"))
    assert browser.get(MAILBOX_PATH).status_code == 404
    assert not re.search(MAILBOX_PATH, browser.get("/enrol").text)
