"""The whole journey in Debian's Chromium: a resident signs in through the provider, fills a
licence application with prefill (consent on the provider's page) and an attachment, gets a
receipt; an officer approves it from the queue; anyone verifies the licence."""

from __future__ import annotations

from forms_hub.config import FormsConfig
from forms_hub.oidc_client.keys import RelyingPartyKeys
from forms_hub.oidc_client.service import create_session_for_tests
from kit.db import session_scope
from tests.e2e.conftest import gateway  # noqa: F401 - the live gateway fixture
from tests.forms_hub.conftest import PDF
from tests.forms_hub.test_e2e_with_the_provider import hub_client  # noqa: F401


def test_apply_with_prefill_and_attachment_officer_approves_licence_verifies(
    gateway,  # noqa: F811
    hub_client,  # noqa: F811
    chromium,
    tmp_path,
):
    base = gateway.base_url
    account_id = gateway.new_resident()
    provider_session = gateway.browser(account_id).cookies.get("egate_session")

    resident = chromium.new_context(locale="en-GB")
    resident.add_cookies([{"name": "egate_session", "value": provider_session, "url": base}])
    page = resident.new_page()
    page.goto(f"{base}/forms/")
    page.get_by_role("link", name="Log in with e-Gateway").click()
    page.wait_for_url(f"{base}/forms/")
    page.get_by_role("button", name="Start: Application for a general restaurant licence").click()
    page.get_by_role("link", name="Fill from my identity").click()
    assert page.get_by_role("cell", name="Hong Kong identity card number").first.is_visible()
    page.get_by_role("button", name="Agree and continue").click()
    page.locator("button[name=decision][value=approve]").click()  # the provider's consent page
    page.wait_for_url("**/edit?notice=prefilled")
    assert page.get_by_label("Applicant's name in English").input_value() == "CHAN Tai Man"
    # a self-enrolled resident: the name is self-declared, so it stays editable
    assert page.get_by_label("Applicant's name in English").get_attribute("readonly") is None
    assert page.get_by_text("Filled from your identity as you declared it").first.is_visible()
    page.get_by_label("Restaurant name in English").fill("Harbour Noodles")
    page.get_by_label("Address of the premises").fill("G/F, 8 Lockhart Road, Wan Chai")
    page.get_by_label("District").select_option("wan-chai")
    page.get_by_label("Floor area in square metres").fill("85.5")
    page.get_by_label("Number of seats").fill("40")
    page.get_by_label("Chinese", exact=True).check()
    page.get_by_label("I declare that the information given is true").check()
    plan = tmp_path / "plan.pdf"
    plan.write_bytes(PDF)
    page.get_by_label("Layout plan of the premises").set_input_files(str(plan))
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/receipt")
    reference = page.locator("#reference").inner_text()
    assert reference.startswith("FEHD-")
    assert page.locator("#receipt-jws").inner_text().count(".") == 2
    page.emulate_media(media="print")
    assert not page.locator(".site-header").is_visible()  # prints without the navigation

    keys = RelyingPartyKeys(gateway.runtime.master_key)
    for db in session_scope(gateway.runtime.sessions):
        cookie = create_session_for_tests(
            db,
            keys,
            "officer-fehd-chromium",
            gateway.runtime.clock(),
            FormsConfig().session_ttl,
            roles=["officer"],
            department="FEHD",
        )
    officer = chromium.new_context(locale="en-GB")
    officer.add_cookies([{"name": "forms_session", "value": cookie, "url": f"{base}/forms/"}])
    desk = officer.new_page()
    desk.goto(f"{base}/forms/officer")
    desk.get_by_role("link", name=reference).click()
    desk.get_by_role("button", name="Assign to me").click()
    desk.get_by_role("button", name="Start review").click()
    desk.get_by_label("Extra licence conditions (one per line)").fill("Close by 23:00")
    desk.get_by_role("button", name="Approve").click()
    number = desk.locator("#licence-number").inner_text()
    assert desk.locator("#status").inner_text() == "Approved"

    page.emulate_media(media="screen")
    page.goto(f"{base}/forms/my")
    assert "Approved" in page.get_by_role("row", name=reference).inner_text()
    page.goto(f"{base}/forms/licences/{number}")
    assert page.locator("figure.qr svg").count() == 1
    assert "Close by 23:00" in page.content()

    public = chromium.new_context(locale="zh-HK")
    check = public.new_page()
    check.goto(f"{base}/forms/verify?lang=zh-HK")
    check.get_by_label("牌照號碼").fill(number)
    check.get_by_role("button", name="核實").click()
    assert check.locator("#result .verdict").inner_text() == "有效"
    assert "CHAN" not in check.content()
    for context in (resident, officer, public):
        context.close()
