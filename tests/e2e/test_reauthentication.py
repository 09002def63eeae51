"""prompt=login and max_age=0 make the resident sign in again, and nothing in the request can
say they just did (issue 12 item 2: ``egate_login_after=1`` returned a code with no sign-in).
The department side is requests-oauthlib; the browser a requests session, over real HTTP."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urljoin

import pytest
import requests

from tests.e2e.conftest import form_fields
from tests.e2e.oidc_client import Department, follow_to_callback, query_of
from tests.e2e.test_oidc_code_flow import department

PASSWORD = "a long demo passphrase"
FORCING = [{"prompt": "login"}, {"max_age": "0"}]
FORGED_RESUME_STATE = [
    {"egate_login_after": "1"},
    {"egate_login_after": str(int(time.time()) - 3600)},
    {"egate_resume": "forged"},
    {"egate_resume": secrets.token_urlsafe(32)},
]


def _resident_with_old_session(gateway) -> tuple[str, requests.Session]:
    """A resident whose browser signed in ten minutes ago (well inside the idle timeout)."""
    email = f"resident-{secrets.token_hex(4)}@example.hk"
    account_id = gateway.new_resident(PASSWORD, email=email)
    with gateway.runtime.clock.shifted(minutes=-10):
        browser = gateway.browser(account_id)
    return email, browser


def _assert_sign_in_page(gateway, browser: requests.Session, response: requests.Response) -> str:
    """The authorization request sent the browser to sign in (and no code anywhere)."""
    assert response.status_code == 303, (response.status_code, response.text[:300])
    location = response.headers["location"]
    assert location.startswith("/signin?") and "code=" not in location
    page = browser.get(urljoin(gateway.base_url, location), allow_redirects=False, timeout=10)
    assert page.status_code == 200 and 'name="password"' in page.text
    return location


def _sign_in(gateway, browser: requests.Session, signin_location: str, email: str) -> str:
    """Type the password on the sign-in page; returns where the browser goes next."""
    url = urljoin(gateway.base_url, signin_location)
    page = browser.get(url, timeout=10)
    fields = form_fields(page.text)
    fields.update(identifier=email, password=PASSWORD)
    response = browser.post(url, data=fields, allow_redirects=False, timeout=10)
    assert response.status_code == 303, (response.status_code, response.text[:300])
    return urljoin(gateway.base_url, response.headers["location"])


@pytest.mark.parametrize("forcing", FORCING, ids=["prompt=login", "max_age=0"])
# Fixed ids: each xdist worker collects the tests itself, and the values hold time and chance.
@pytest.mark.parametrize(
    "forged",
    FORGED_RESUME_STATE,
    ids=["login_after=1", "login_after=an_hour_ago", "resume=forged", "resume=random"],
)
def test_a_request_parameter_cannot_skip_the_sign_in(gateway, forcing, forged):
    dept = department(gateway)
    _, browser = _resident_with_old_session(gateway)
    url, _ = dept.start(dept.session("openid"), **forcing, **forged)
    response = browser.get(url, allow_redirects=False, timeout=10)
    _assert_sign_in_page(gateway, browser, response)


def _signed_in_again(gateway, dept: Department, forcing: dict[str, str]):
    email, browser = _resident_with_old_session(gateway)
    oauth = dept.session("openid")
    url, nonce = dept.start(oauth, **forcing)
    signin = _assert_sign_in_page(gateway, browser, browser.get(url, allow_redirects=False, timeout=10))
    signed_in_at = int(gateway.runtime.clock().timestamp())
    resume = _sign_in(gateway, browser, signin, email)
    return oauth, browser, nonce, resume, signed_in_at


@pytest.mark.parametrize("forcing", FORCING, ids=["prompt=login", "max_age=0"])
def test_after_signing_in_again_the_department_gets_a_fresh_sign_in(gateway, forcing):
    dept = department(gateway)
    oauth, browser, nonce, resume, signed_in_at = _signed_in_again(gateway, dept, forcing)
    assert resume.startswith(f"{gateway.base_url}/authorize?")
    callback = follow_to_callback(browser, resume)
    assert callback.startswith(dept.redirect_uri) and "code" in query_of(callback)
    tokens = dept.exchange(oauth, callback)
    claims = dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)
    assert claims["auth_time"] >= signed_in_at - 1  # the new sign-in, not the one ten minutes ago


def test_the_resume_link_works_once_and_for_its_own_request_only(gateway):
    dept = department(gateway)
    oauth, browser, _, resume, _ = _signed_in_again(gateway, dept, {"prompt": "login"})
    handle = {k: v for k, v in query_of(resume).items() if k.startswith("egate_")}
    assert handle, resume

    # The same browser, another authorization request carrying the first one's handle.
    other_url, _ = dept.start(dept.session("openid"), prompt="login", **handle)
    _assert_sign_in_page(gateway, browser, browser.get(other_url, allow_redirects=False, timeout=10))

    # The link itself gives one code, then never again.
    callback = follow_to_callback(browser, resume)
    assert "code" in query_of(callback)
    _assert_sign_in_page(gateway, browser, browser.get(resume, allow_redirects=False, timeout=10))


def test_the_consent_page_after_signing_in_again_still_leads_to_the_code(gateway):
    dept = department(gateway)
    oauth = dept.session("openid profile")
    email, browser = _resident_with_old_session(gateway)
    url, nonce = dept.start(oauth, prompt="login consent")
    signin = _assert_sign_in_page(gateway, browser, browser.get(url, allow_redirects=False, timeout=10))
    signed_in_at = int(gateway.runtime.clock().timestamp())
    resume = _sign_in(gateway, browser, signin, email)
    page = browser.get(resume, allow_redirects=False, timeout=10)
    assert page.status_code == 200 and 'name="decision"' in page.text
    callback = follow_to_callback(browser, resume)
    tokens = dept.exchange(oauth, callback)
    claims = dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)
    assert claims["auth_time"] >= signed_in_at - 1


def test_a_browser_without_a_session_signs_in_once_for_prompt_login(gateway):
    dept = department(gateway)
    email = f"resident-{secrets.token_hex(4)}@example.hk"
    gateway.new_resident(PASSWORD, email=email)
    browser = requests.Session()
    oauth = dept.session("openid")
    url, nonce = dept.start(oauth, prompt="login")
    signin = _assert_sign_in_page(gateway, browser, browser.get(url, allow_redirects=False, timeout=10))
    callback = follow_to_callback(browser, _sign_in(gateway, browser, signin, email))
    tokens = dept.exchange(oauth, callback)
    assert dept.verify_id_token(tokens["id_token"], tokens["access_token"], nonce)["sub"]
