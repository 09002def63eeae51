"""The forms hub with the real provider over real HTTP (one live gateway per backend): sign
in, prefill with consent (a proofed resident's verified details read-only, a self-asserted
resident's editable), attach, submit, verify the receipt, a department back-end works its
queue with client_credentials tokens, the licence verifies, and every disclosure is in the
ledger."""

from __future__ import annotations

import re
import secrets
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from jose import jwt as jose_jwt

from forms_hub.demo import seed_demo_forms
from forms_hub.oidc_client.service import set_client_credentials
from identity.accounts.claims import resident_claims
from identity.accounts.models import Account
from identity.proofing.models import IdentityProofing
from identity.proofing.verified import current_verification, seal_verified_claims
from identity.security.keyring import build_keyring
from kit.db import session_scope
from tests.e2e.conftest import gateway  # noqa: F401 - the live gateway fixture
from tests.e2e.oidc_client import follow_to_callback
from tests.forms_hub.conftest import PDF, restaurant_answers

FORMS_SCOPES = ("openid", "profile", "email", "phone", "address", "hkid")


@pytest.fixture(scope="module")
def hub_client(gateway):  # noqa: F811
    """Register the forms hub with the provider as a first-party, public-subject client
    (its ``sub`` is the resident's account id, as in the provider's own ledger entries)."""
    base = gateway.base_url
    client_id, secret = gateway.register_client(
        client_id=f"forms-hub-{secrets.token_hex(4)}",
        name="e-Gateway forms",
        name_zh="電子通道表格",
        department="FORMSHUB",
        redirect_uris=[f"{base}/forms/auth/callback"],
        post_logout_redirect_uris=(f"{base}/forms/",),
        grant_types=("authorization_code", "refresh_token"),
        allowed_scopes=FORMS_SCOPES,
        subject_type="public",
        first_party=True,
        purpose="To fill in and submit government forms for you",
        purpose_zh="為你填寫及提交政府表格",
        backchannel_logout_uri=f"{base}/forms/api/backchannel-logout",
    )
    runtime = gateway.runtime
    for db in session_scope(runtime.sessions):
        set_client_credentials(db, runtime.master_key, client_id, secret, runtime.clock())
        seed_demo_forms(db, runtime.clock())
    return client_id


def signed_in(gateway, account_id: str) -> requests.Session:  # noqa: F811
    browser = gateway.browser(account_id)
    landing = browser.get(f"{gateway.base_url}/forms/auth/login", timeout=10)
    assert landing.status_code == 200 and landing.url.endswith("/forms/my"), landing.url
    assert any(c.name == "forms_session" for c in browser.cookies)
    return browser


def department_token(gateway, department: str) -> str:  # noqa: F811
    client_id, secret = gateway.register_client(
        department=department,
        grant_types=("client_credentials",),
        redirect_uris=[],
        allowed_scopes=("forms:department",),
    )
    response = requests.post(
        f"{gateway.base_url}/token",
        data={"grant_type": "client_credentials", "scope": "forms:department"},
        auth=(client_id, secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def disclosures(gateway, account_id: str) -> list:  # noqa: F811
    from consent.port import LedgerConsentPort

    for db in session_scope(gateway.runtime.sessions):
        return LedgerConsentPort().list_disclosures(db, account_id)
    return []


def test_prefill_with_consent_submit_and_the_ledger(gateway, hub_client):  # noqa: F811
    base = gateway.base_url
    account_id = gateway.new_resident()
    browser = signed_in(gateway, account_id)
    draft = browser.post(
        f"{base}/forms/api/submissions", json={"form": "change-of-address"}, timeout=10
    ).json()
    page = browser.get(f"{base}/forms/submissions/{draft['id']}/prefill", timeout=10)
    assert "Inland Revenue Department" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    start = browser.post(
        f"{base}/forms/submissions/{draft['id']}/prefill",
        data={"csrf_token": csrf},
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 303 and start.headers["location"].startswith(f"{base}/authorize?")
    callback = follow_to_callback(browser, start.headers["location"])  # the provider's consent page
    assert callback.startswith(f"{base}/forms/auth/callback?")
    done = browser.get(callback, timeout=10)
    assert done.status_code == 200 and "notice=prefilled" in done.url
    filled = browser.get(f"{base}/forms/api/submissions/{draft['id']}", timeout=10).json()
    assert filled["answers"]["taxpayer_name"] == "CHAN Tai Man"
    assert re.fullmatch(r"[A-Z]{1,2}\d{6}\([0-9A]\)", filled["answers"]["hkid"])
    # a self-enrolled resident: the values were released as ordinary claims, self-declared
    assert filled["prefill"]["hkid"] == {
        "claim": "hkid_number",
        "verified": False,
        "assurance_level": "self_asserted",
    }
    assert browser.put(
        f"{base}/forms/api/submissions/{draft['id']}/answers",
        json={"answers": address_answers(filled)},
        timeout=10,
    ).ok
    submitted = browser.post(
        f"{base}/forms/api/submissions/{draft['id']}/submit", headers={"Idempotency-Key": "e2e-1"}, timeout=10
    )
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["reference"].startswith("IRD-")
    jwks = requests.get(f"{base}/forms/.well-known/jwks.json", timeout=10).json()
    kid = jose_jwt.get_unverified_header(body["receipt"])["kid"]
    key = next(k for k in jwks["keys"] if k["kid"] == kid)
    assert jose_jwt.decode(body["receipt"], key, algorithms=["ES256"])["reference"] == body["reference"]

    entries = disclosures(gateway, account_id)
    channels = [(e.channel, e.recipient_department) for e in entries]
    assert ("userinfo", "FORMSHUB") in channels  # the provider's release for the prefill
    [handed] = [e for e in entries if e.channel == "form_submission"]
    assert handed.recipient_department == "IRD" and handed.recipient_client_id == hub_client
    assert "hkid" in handed.fields and "taxpayer_name" in handed.fields
    assert handed.basis == "legal" and "Cap. 112" in handed.legal_basis


def address_answers(filled: dict) -> dict:
    return {
        **filled["answers"],
        "flat_floor": "Flat 3B, 20/F",
        "building_street": "Harbour View Court, 8 Gloucester Road",
        "district": "wan-chai",
        "effective_date": "2025-02-01",
        "declaration": True,
    }


def proofed_resident(gateway, level: str = "in_person") -> str:  # noqa: F811
    """A resident a registration officer proofed, recorded as the provider's proofing does: an
    approved proofing with the sealed snapshot of the checked claims, and the account's level."""
    account_id = gateway.new_resident()
    runtime = gateway.runtime
    keyring = build_keyring(runtime.master_key, runtime.settings.field_key_generation)
    for db in session_scope(runtime.sessions):
        now = runtime.clock()
        proofing = IdentityProofing(
            id=secrets.token_hex(16),
            account_id=account_id,
            level=level,
            check_method="vpip" if level == "in_person" else "vri",
            document_type="idcard",
            status="approved",
            requested_at=now,
            decided_at=now,
        )
        seal_verified_claims(keyring, proofing, resident_claims(db, keyring, account_id))
        db.add(proofing)
        db.get(Account, account_id).identity_level = level
        db.flush()
        verification = current_verification(db, keyring, account_id)  # what verified_claims come from
        assert verification is not None and verification.claims["name"] == "CHAN Tai Man"
    return account_id


def prefilled_with_consent(gateway, browser: requests.Session, form: str) -> tuple[str, requests.Response]:  # noqa: F811
    """A draft of ``form`` filled from the identity through the provider's consent page; the
    draft's id and the edit page the callback lands on."""
    base = gateway.base_url
    draft_id = browser.post(f"{base}/forms/api/submissions", json={"form": form}, timeout=10).json()["id"]
    page = browser.get(f"{base}/forms/submissions/{draft_id}/prefill", timeout=10)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    start = browser.post(
        f"{base}/forms/submissions/{draft_id}/prefill",
        data={"csrf_token": csrf},
        allow_redirects=False,
        timeout=10,
    )
    assert start.status_code == 303, start.text
    done = browser.get(follow_to_callback(browser, start.headers["location"]), timeout=10)
    assert done.status_code == 200 and "notice=prefilled" in done.url, done.url
    return draft_id, done


def test_a_proofed_residents_name_is_read_only_and_a_self_asserted_residents_editable(
    gateway,  # noqa: F811
    hub_client,
):
    """Waits for the provider's verified_claims (issue 14): until it releases them, the
    proofed resident's name comes as an ordinary claim and this test fails on its first
    read-only assertion."""
    base = gateway.base_url
    proofed = signed_in(gateway, proofed_resident(gateway))
    self_asserted = signed_in(gateway, gateway.new_resident())
    editable_id, editable = prefilled_with_consent(gateway, self_asserted, "change-of-address")
    assert re.search(r'id="taxpayer_name"[^>]*>', editable.text)
    assert not re.search(r'id="taxpayer_name"[^>]*readonly', editable.text)
    draft = self_asserted.get(f"{base}/forms/api/submissions/{editable_id}", timeout=10).json()
    assert (
        draft["prefill"]["taxpayer_name"]["verified"] is False and draft["identity_level"] == "self_asserted"
    )

    draft_id, edit = prefilled_with_consent(gateway, proofed, "change-of-address")
    assert re.search(r'id="taxpayer_name"[^>]*readonly', edit.text), "the proofed name is not read-only"
    filled = proofed.get(f"{base}/forms/api/submissions/{draft_id}", timeout=10).json()
    assert filled["answers"]["taxpayer_name"] == "CHAN Tai Man"
    assert filled["prefill"]["taxpayer_name"]["assurance_level"] == "in_person"
    assert filled["identity_level"] == "in_person"
    answers = address_answers(filled)
    url = f"{base}/forms/api/submissions/{draft_id}"
    tampered = proofed.put(f"{url}/answers", json={"answers": {**answers, "taxpayer_name": "X"}}, timeout=10)
    assert tampered.status_code == 422
    assert proofed.put(f"{url}/answers", json={"answers": answers}, timeout=10).ok
    submitted = proofed.post(f"{url}/submit", headers={"Idempotency-Key": draft_id}, timeout=10)
    assert submitted.status_code == 200, submitted.text  # checked against a fresh verified_claims
    assert submitted.json()["identity_level"] == "in_person"


def test_a_department_back_end_processes_and_the_licence_verifies(gateway, hub_client):  # noqa: F811
    base = gateway.base_url
    account_id = gateway.new_resident()
    browser = signed_in(gateway, account_id)
    draft = browser.post(
        f"{base}/forms/api/submissions",
        json={"form": "food-business-licence", "answers": restaurant_answers()},
        timeout=10,
    ).json()
    upload = browser.post(
        f"{base}/forms/api/submissions/{draft['id']}/attachments",
        data={"name": "layout_plan"},
        files={"file": ("plan.pdf", PDF, "application/pdf")},
        timeout=10,
    )
    assert upload.status_code == 201, upload.text
    submitted = browser.post(f"{base}/forms/api/submissions/{draft['id']}/submit", timeout=10).json()
    reference = submitted["reference"]

    fehd = {"Authorization": f"Bearer {department_token(gateway, 'FEHD')}"}
    td = {"Authorization": f"Bearer {department_token(gateway, 'TD')}"}
    queue = requests.get(f"{base}/forms/api/department/submissions", headers=fehd, timeout=10).json()
    assert reference in [i["reference"] for i in queue["items"]]
    assert reference not in [
        i["reference"]
        for i in requests.get(f"{base}/forms/api/department/submissions", headers=td, timeout=10).json()[
            "items"
        ]
    ]
    url = f"{base}/forms/api/department/submissions/{reference}/transitions"
    assert requests.post(url, json={"action": "approve"}, headers=td, timeout=10).status_code == 404
    assert (
        requests.post(url, json={"action": "start_review"}, headers=fehd, timeout=10).json()["status"]
        == "in_review"
    )
    approved = requests.post(url, json={"action": "approve"}, headers=fehd, timeout=10).json()
    number = approved["licence"]
    attachment = approved["attachments"][0]
    file = requests.get(
        f"{base}/forms/api/department/submissions/{reference}/attachments/{attachment['id']}",
        headers=fehd,
        timeout=10,
    )
    assert file.content == PDF
    check = requests.get(f"{base}/forms/api/licences/{number}/verification", timeout=10).json()
    assert check["status"] == "valid" and check["department"] == "FEHD"
    status = browser.get(f"{base}/forms/api/submissions/{draft['id']}", timeout=10).json()
    assert status["status"] == "approved" and status["licence"] == number
    [handed] = [e for e in disclosures(gateway, account_id) if e.channel == "form_submission"]
    assert sorted(handed.fields) == sorted([*restaurant_answers(), "attachment:layout_plan"])


def test_with_the_provider_requiring_par_the_hub_still_signs_residents_in(gateway, hub_client):  # noqa: F811
    """EGATE_REQUIRE_PAR=true: the hub pushes its sign-in and prefill requests (RFC 9126), so
    it is not locked out; the browser carries only the pushed request's URI."""
    base = gateway.base_url
    settings = gateway.runtime.settings
    settings.require_par = True
    try:
        assert gateway.discovery()["require_pushed_authorization_requests"] is True
        browser = gateway.browser(gateway.new_resident())
        login = browser.get(f"{base}/forms/auth/login", allow_redirects=False, timeout=10)
        assert login.status_code == 303 and login.headers["location"].startswith(f"{base}/authorize?")
        front = dict(parse_qsl(urlsplit(login.headers["location"]).query))
        assert set(front) == {"client_id", "request_uri", "ui_locales"} and front["client_id"] == hub_client
        landing = browser.get(login.headers["location"], timeout=10)
        assert landing.url.endswith("/forms/my") and any(c.name == "forms_session" for c in browser.cookies)

        draft = browser.post(f"{base}/forms/api/submissions", json={"form": "change-of-address"}, timeout=10)
        page = browser.get(f"{base}/forms/submissions/{draft.json()['id']}/prefill", timeout=10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        start = browser.post(
            f"{base}/forms/submissions/{draft.json()['id']}/prefill",
            data={"csrf_token": csrf},
            allow_redirects=False,
            timeout=10,
        )
        assert "claims" not in dict(parse_qsl(urlsplit(start.headers["location"]).query))  # pushed
        done = browser.get(follow_to_callback(browser, start.headers["location"]), timeout=10)
        assert done.status_code == 200 and "notice=prefilled" in done.url
        # A department's plain request is still refused.
        plain = browser.get(
            f"{base}/authorize",
            params={"client_id": hub_client, "response_type": "code", "scope": "openid"},
            allow_redirects=False,
            timeout=10,
        )
        assert plain.status_code == 400 and "must push" in plain.text
    finally:
        settings.require_par = False
