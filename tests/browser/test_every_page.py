"""Every page, resident's, registration officer's and department officer's, in English and
Chinese, in Debian's Chromium: reflow (WCAG 2.2 SC 1.4.10: fits a 320 CSS px viewport without
sideways scrolling; at 1280 px no navigation wraps), axe-core (tests/axe) finds nothing, at
any impact level, and no Chinese page shows an English sentence of the catalogue untranslated.

To cover a new page, add its path to one of the lists below ({submission} and {reference} name
a submitted fault report of the signed-in resident)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from forms_hub.config import FormsConfig
from forms_hub.demo import seed_demo_forms
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.service import create_session_for_tests
from kit.db import session_scope
from kit.i18n import CATALOGUES, CHINESE
from tests.browser.test_identity_pages import sign_in
from tests.browser.test_proofing import new_registrar
from tests.forms_hub.conftest import toilet_answers

pytestmark = pytest.mark.browser

PUBLIC_PAGES = ["/signin", "/enrol", "/reset", "/forms/", "/forms/verify", "/forms/receipts/verify"]
RESIDENT_PAGES = [
    "/account",
    "/account/profile",
    "/account/security",
    "/account/security/totp",
    "/account/activity",
    "/account/consents",
    "/account/disclosures",
    "/account/devices",
    "/account/identity",
    "/account/signing",
    "/account/verify/phone",
]
FORMS_RESIDENT_PAGES = [
    "/forms/",
    "/forms/my",
    "/forms/notifications",
    "/forms/licences",
    "/forms/submissions/{submission}",
    "/forms/submissions/{submission}/receipt",
]
FORMS_OFFICER_PAGES = ["/forms/officer", "/forms/officer/cases/{reference}"]
DEMO_PAGES = ["/demo/mailbox"]  # egate serve --demo (the site fixture runs in demo mode)
REGISTRAR_PAGES = ["/staff/registration", "/staff/registration/queue", "/staff/registration/enrol"]
LANGUAGES = ("en", "zh-HK")
NARROW, WIDE = 320, 1280
ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).resolve().parents[1] / "axe" / "node_modules" / "axe-core" / "axe.min.js"

WIDEST_ELEMENTS = """(limit) => [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > limit).slice(-3)
    .map(e => `${e.tagName}.${e.className} ${e.textContent.trim().slice(0, 30)}`)"""
LINES_OF_EACH_NAVIGATION = """() => [...document.querySelectorAll('nav ul')].map(
    ul => new Set([...ul.children].map(li => Math.round(li.getBoundingClientRect().top))).size)"""


def english_sentences() -> set[str]:
    """The catalogue's English phrases of two words or more (placeholders aside): one of them
    on a Chinese page is a string left untranslated."""
    phrases = set()
    with CATALOGUES.po_file(CHINESE).open("rb") as po:
        for message in read_po(po):
            msgid = message.id if isinstance(message.id, str) else message.id[0]
            if msgid and " " in msgid and "%(" not in msgid and message.string != msgid:
                phrases.add(msgid)
    return phrases


ENGLISH = english_sentences()
# The page's text, without what is marked as English on purpose (the bilingual brand, names).
CHINESE_TEXT = """() => {
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const parts = [];
    while (walker.nextNode()) {
        const owner = walker.currentNode.parentElement.closest('[lang]');
        if (!owner || !owner.lang.startsWith('en')) parts.push(walker.currentNode.textContent);
    }
    return parts.join(' ').replace(/\\s+/g, ' ');
}"""


def untranslated(page) -> list[str]:
    text = page.evaluate(CHINESE_TEXT)
    return sorted(phrase for phrase in ENGLISH if phrase in text)


def accessibility_problems(page) -> list[str]:
    """axe-core's violations on the page, every impact level, one readable line per element."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `npm ci --prefix tests/axe` (scripts/test does it)")
    page.evaluate(AXE.read_text())
    violations = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"  [{v['impact']}] {v['id']}: {v['help']} at {json.dumps(node['target'])} {node['html'][:120]}"
        for v in violations
        for node in v["nodes"]
    ]


def problems_of(page, site, paths: list[str], **names: str) -> list[str]:
    """What fails on these pages, in both languages: reflow at 320 px and at 1280 px, axe-core."""
    problems = []
    for lang in LANGUAGES:
        for path in (p.format(**names) for p in paths):
            page.set_viewport_size({"width": NARROW, "height": 800})
            response = page.goto(site.url(f"{path}?lang={lang}"))
            assert response is not None and response.status == 200, (path, lang)
            width = page.evaluate("document.scrollingElement.scrollWidth")
            if width > NARROW:
                widest = page.evaluate(WIDEST_ELEMENTS, NARROW)
                problems.append(f"{path} ({lang}) is {width} px wide at {NARROW} px: {widest}")
            if lang == "zh-HK" and (english := untranslated(page)):
                problems.append(f"{path} ({lang}) shows English: {english}")
            if found := accessibility_problems(page):
                problems.append(f"{path} ({lang}): axe-core finds\n" + "\n".join(found))
            page.set_viewport_size({"width": WIDE, "height": 800})
            if any(lines > 1 for lines in page.evaluate(LINES_OF_EACH_NAVIGATION)):
                problems.append(f"{path} ({lang}): a navigation wraps at {WIDE} px")
    return problems


def forms_session(site, sub: str, **claims) -> str:
    keys, now = RelyingPartyKeys(site.runtime.master_key), site.runtime.clock()
    for db in session_scope(site.runtime.sessions):
        cookie = create_session_for_tests(db, keys, sub, now, FormsConfig().session_ttl, **claims)
    return cookie


def use_forms_session(page, site, cookie: str) -> None:
    page.context.add_cookies([{"name": "forms_session", "value": cookie, "url": site.url("/forms/")}])


def test_every_page_reflows_at_320_px_and_passes_axe_in_both_languages(page, new_page, site):
    for db in session_scope(site.runtime.sessions):
        seed_demo_forms(db, site.runtime.clock())
    problems = problems_of(page, site, PUBLIC_PAGES)

    resident = site.new_resident()
    sign_in(page, site, resident["email"], query="?lang=en")
    page.wait_for_url("**/account")
    page.goto(site.url("/account/verify/phone?lang=en"))  # a developer learns where the code went
    outbox = str(site.runtime.settings.data_dir / "outbox")
    assert outbox in page.locator("#development-outbox").inner_text()
    page.get_by_role("button", name="Send a new code").click()  # then read it in the mailbox
    page.get_by_role("link", name="Demo: open the mailbox to read the code").click()
    assert site.latest_code("+85261234567") in page.locator("#mailbox").inner_text()
    problems += problems_of(page, site, DEMO_PAGES)

    use_forms_session(page, site, forms_session(site, resident["id"]))
    page.goto(site.url("/forms/"))  # the CSRF cookie the API checks
    submitted = page.request.post(
        site.url("/forms/api/submissions"),
        data={"form": "public-toilet-fault-report", "answers": toilet_answers(), "submit": True},
        headers={"Idempotency-Key": secrets.token_hex(8)},
    )
    assert submitted.ok, submitted.text()
    case = submitted.json()
    problems += problems_of(page, site, FORMS_RESIDENT_PAGES, submission=case["id"])
    # After the hand-over, so that the disclosure record has a row to show in each language.
    problems += problems_of(page, site, RESIDENT_PAGES)
    page.goto(site.url("/account/disclosures?lang=zh-HK"))
    assert "跟進你的舉報" in page.locator("#disclosures").inner_text()

    officer = new_page()
    sub = f"officer-{secrets.token_hex(3)}"
    use_forms_session(officer, site, forms_session(site, sub, roles=["officer"], department="FEHD"))
    problems += problems_of(officer, site, FORMS_OFFICER_PAGES, reference=case["reference"])

    registrar = new_page()
    username, authenticator = new_registrar(site)
    sign_in(registrar, site, username, query="?lang=en")
    registrar.get_by_label("Code from your authenticator app").fill(authenticator.now())
    registrar.get_by_role("button", name="Continue").click()
    registrar.wait_for_url("**/account")
    problems += problems_of(registrar, site, REGISTRAR_PAGES)

    assert not problems, "\n".join(problems)
