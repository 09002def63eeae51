"""A department asking for two-step verification of a resident who has none, in headless
Chromium: once this looped between /authorize and /signin until the browser gave up (issue
14). Now a page explains; the resident can go back to the department with the standard error,
or set up the factor and continue to the department."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pyotp
import pytest
from playwright.sync_api import expect

from identity.assurance import ACR_MFA
from identity.clients.service import Registration, register
from kit.db import session_scope

pytestmark = pytest.mark.browser


def authorization_url(site, client_id: str, redirect_uri: str) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return site.url("/authorize?" + urlencode(query))


def test_a_floor_the_resident_lacks_is_explained_then_met_after_setting_up_a_second_factor(page, site):
    redirect_uri = site.url("/department-callback")  # loopback: any page will do as the department
    for db in session_scope(site.runtime.sessions):
        client, _ = register(
            db,
            site.runtime.master_key,
            Registration(
                name="Lands Department e-Services",
                department="LANDSD",
                redirect_uris=[redirect_uri],
                token_endpoint_auth_method="none",
                min_acr=ACR_MFA,
            ),
            site.runtime.clock(),
        )
        client_id = client.client_id
    resident = site.new_resident()
    url = authorization_url(site, client_id, redirect_uri)

    page.goto(url)
    page.get_by_label("Identity card number, email address or staff user name").fill(resident["email"])
    page.get_by_label("Password", exact=True).fill(resident["password"])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="This service needs a stronger sign-in")).to_be_visible()
    page.get_by_role("button", name="Return to the service").click()
    page.wait_for_url(f"{redirect_uri}?**")
    answer = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
    assert answer["error"] == "unmet_authentication_requirements" and answer["state"].startswith("st-")

    page.goto(url)  # signed in now: the same explanation, no trip to /signin
    expect(page.get_by_role("heading", name="This service needs a stronger sign-in")).to_be_visible()
    retry = page.locator("#try-again").get_attribute("href")
    page.get_by_role("link", name="Turn on two-step verification with an authenticator app").click()
    key = page.locator("#manual-key").inner_text().replace(" ", "")
    totp = pyotp.TOTP(key)
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn on two-step verification").click()

    page.goto(site.url(retry))
    expect(page.get_by_text("asks for a higher level of assurance")).to_be_visible()
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{redirect_uri}?**")
    assert "code" in parse_qs(urlsplit(page.url).query)
