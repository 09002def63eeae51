"""prompt=select_account in headless Chromium (issue 15): a department asks the resident to
choose the account; the sign-in page shows the one signed in, to continue with, and the way
to use another; either choice reaches the department once, with the account chosen."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from identity.clients.service import Registration, register
from kit.db import session_scope
from tests.browser.test_unmet_requirements import authorization_url

pytestmark = pytest.mark.browser


def masked(hkid: str) -> str:
    """How the pages show a card number: "A123456(3)" as "A123***(*)"."""
    return hkid.split("(")[0][:-3] + "***(*)"


def test_the_resident_continues_or_signs_in_with_another_account(page, site):
    redirect_uri = site.url("/department-callback")  # loopback: any page will do as the department
    for db in session_scope(site.runtime.sessions):
        client, _ = register(
            db,
            site.runtime.master_key,
            Registration(
                name="Social Welfare Department e-Services",
                department="SWD",
                redirect_uris=[redirect_uri],
                token_endpoint_auth_method="none",
            ),
            site.runtime.clock(),
        )
    first, other = site.new_resident(), site.new_resident()
    page.goto(site.url("/signin"))
    page.get_by_label("Identity card number, email address or staff user name").fill(first["email"])
    page.get_by_label("Password", exact=True).fill(first["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(site.url("/account"))
    url = authorization_url(site, client.client_id, redirect_uri) + "&prompt=select_account"

    page.goto(url)
    expect(page.get_by_role("heading", name="Choose an account")).to_be_visible()
    expect(page.locator("#current-identifier")).to_have_text(f"({masked(first['hkid'])})")
    page.get_by_role("link", name="Continue as LEE Siu Ming").click()
    page.wait_for_url(f"{redirect_uri}?**")
    assert "code" in parse_qs(urlsplit(page.url).query)

    page.goto(url)
    expect(page.get_by_role("heading", name="Use another account")).to_be_visible()
    page.get_by_label("Identity card number, email address or staff user name").fill(other["email"])
    page.get_by_label("Password", exact=True).fill(other["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{redirect_uri}?**")
    assert "code" in parse_qs(urlsplit(page.url).query)
    page.goto(site.url("/account"))  # the browser is now the other resident's
    expect(page.locator("#hkid-masked")).to_have_text(masked(other["hkid"]))
