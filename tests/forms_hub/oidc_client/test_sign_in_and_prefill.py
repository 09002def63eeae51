"""The forms hub as a relying party: sign-in (code + PKCE + state + nonce, state bound to
the browser), and prefill with consent re-checked against a fresh release at submission."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from tests.forms_hub.conftest import local


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def address_draft(client) -> str:
    response = client.post("/forms/api/submissions", json={"form": "change-of-address", "answers": {}})
    assert response.status_code == 201
    return response.json()["id"]


def prefill(client, provider, sub, draft_id, **authorize):
    page = client.get(f"/forms/submissions/{draft_id}/prefill")
    assert page.status_code == 200
    start = client.post(
        f"/forms/submissions/{draft_id}/prefill",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert start.status_code == 303, start.text
    callback = provider.authorize(start.headers["location"], sub, **authorize)
    return start.headers["location"], client.get(local(callback), follow_redirects=False)


def complete_address(client, draft_id, **changes):
    answers = client.get(f"/forms/api/submissions/{draft_id}").json()["answers"]
    answers.update(
        {
            "flat_floor": "Flat 3B, 20/F",
            "building_street": "Harbour View Court, 8 Gloucester Road",
            "district": "wan-chai",
            "effective_date": "2025-02-01",
            "declaration": True,
        }
    )
    answers.update(changes)
    return client.put(f"/forms/api/submissions/{draft_id}/answers", json={"answers": answers})


def test_sign_in_uses_pkce_state_and_nonce_and_sets_a_strict_cookie(client, provider):
    start = client.get("/forms/auth/login?next=https://evil.example/", follow_redirects=False)
    params = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert params["scope"] == "openid" and params["state"] and params["nonce"]
    assert params["redirect_uri"] == "http://testserver/forms/auth/callback"
    callback = provider.authorize(start.headers["location"], "acct-1")
    done = client.get(local(callback), follow_redirects=False)
    assert done.headers["location"] == "/forms/my"  # never an open redirect
    cookie = done.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/forms" in cookie
    assert (
        provider.token_calls[-1]["code_verifier"]
        and provider.token_calls[-1]["grant_type"] == "authorization_code"
    )
    again = client.get(local(callback), follow_redirects=False)  # the same callback twice
    assert again.status_code == 303 and again.headers["location"] == "/forms/my"


def test_callbacks_that_do_not_belong_to_this_browser_are_refused(forms_app, client, provider):
    start = client.get("/forms/auth/login", follow_redirects=False)
    callback = provider.authorize(start.headers["location"], "acct-1")
    with TestClient(forms_app, base_url="http://testserver") as other_browser:
        stolen = other_browser.get(local(callback), follow_redirects=False)
        assert stolen.status_code == 400 and "not valid in this browser" in stolen.text
        assert "forms_session" not in other_browser.cookies
    unknown = client.get("/forms/auth/callback?code=x&state=never-issued", follow_redirects=False)
    assert unknown.status_code == 400
    start = client.get("/forms/auth/login", follow_redirects=False)
    mixed_up = provider.authorize(start.headers["location"], "acct-1").replace("iss=http", "iss=https")
    assert client.get(local(mixed_up), follow_redirects=False).status_code == 400
    start = client.get("/forms/auth/login", follow_redirects=False)
    replayed_nonce = provider.authorize(start.headers["location"], "acct-1", id_token_claims={"nonce": "old"})
    response = client.get(local(replayed_nonce), follow_redirects=False)
    assert response.status_code == 400 and "could not be verified" in response.text
    start = client.get("/forms/auth/login", follow_redirects=False)
    denied = provider.authorize(start.headers["location"], "acct-1", deny=True)
    assert client.get(local(denied), follow_redirects=False).status_code == 400
    assert "forms_session" not in client.cookies


VERIFIED_NAME = {
    "claim": "name",
    "verified": True,
    "assurance_level": "in_person",
    "trust_framework": "hk_egate",
    "verified_at": "2026-12-01T10:00:00Z",
}


def test_prefill_shows_what_is_taken_for_whom_then_fills_verified_answers_read_only(
    client, provider, proofed_resident, disclosures
):
    draft_id = address_draft(client)
    page = client.get(f"/forms/submissions/{draft_id}/prefill")
    assert "Inland Revenue Department" in page.text
    for label in (
        "Name in English",
        "Hong Kong identity card number",
        "Contact phone number",
        "Email address",
    ):
        assert label in page.text
    assert "Read-only if your identity was proofed; otherwise editable" in page.text
    chinese = client.get(f"/forms/submissions/{draft_id}/prefill?lang=zh-HK")
    assert (
        "稅務局" in chinese.text
        and "英文姓名" in chinese.text
        and "如你的身份已核實則不可更改" in chinese.text
    )
    location, done = prefill(client, provider, proofed_resident, draft_id)
    requested = json.loads(parse_qs(urlsplit(location).query)["claims"][0])
    assert requested == {  # every claim as an ordinary one, the verifiable ones verified too
        "userinfo": {
            "name": None,
            "hkid_number": None,
            "phone_number": None,
            "email": None,
            "verified_claims": {
                "verification": {"trust_framework": {"value": "hk_egate"}, "assurance_level": None},
                "claims": {"name": None, "hkid_number": None},
            },
        }
    }
    assert done.headers["location"] == f"/forms/submissions/{draft_id}/edit?notice=prefilled"
    draft = client.get(f"/forms/api/submissions/{draft_id}").json()
    assert draft["answers"]["taxpayer_name"] == "CHAN Tai Man" and draft["answers"]["hkid"] == "A123456(3)"
    assert draft["prefill"]["taxpayer_name"] == VERIFIED_NAME
    assert draft["prefill"]["phone"] == {
        "claim": "phone_number",
        "verified": False,
        "assurance_level": "self_asserted",
    }
    assert draft["identity_level"] == "in_person"
    edit = client.get(f"/forms/submissions/{draft_id}/edit?lang=en")
    assert re.search(r'id="taxpayer_name"[^>]*readonly', edit.text)
    assert not re.search(r'id="phone"[^>]*readonly', edit.text)
    assert "Verified: from your proofed identity" in edit.text
    assert disclosures.entries == []  # nothing has gone to the department yet

    tampered = complete_address(client, draft_id, taxpayer_name="SOMEONE Else")
    assert tampered.status_code == 422 and tampered.json()["errors"][0]["code"] == "prefill"
    assert complete_address(client, draft_id, phone="+852 2345 6789").status_code == 200

    calls = provider.userinfo_calls
    submitted = client.post(f"/forms/api/submissions/{draft_id}/submit")
    assert submitted.status_code == 200, submitted.text
    assert provider.userinfo_calls == calls + 1  # a fresh release was checked
    assert submitted.json()["identity_level"] == "in_person"
    assert disclosures.entries[0]["fields"] == sorted(submitted.json()["answers"])


def test_a_self_asserted_residents_details_are_filled_as_declared_and_stay_editable(
    client, provider, resident
):
    draft_id = address_draft(client)
    _, done = prefill(client, provider, resident, draft_id)
    assert done.headers["location"].endswith("notice=prefilled")
    draft = client.get(f"/forms/api/submissions/{draft_id}").json()
    assert draft["answers"]["taxpayer_name"] == "CHAN Tai Man" and draft["answers"]["hkid"] == "A123456(3)"
    for field, claim in (("taxpayer_name", "name"), ("hkid", "hkid_number")):
        assert draft["prefill"][field] == {
            "claim": claim,
            "verified": False,
            "assurance_level": "self_asserted",
        }
    assert draft["identity_level"] == "self_asserted"
    edit = client.get(f"/forms/submissions/{draft_id}/edit")
    assert not re.search(r'id="taxpayer_name"[^>]*readonly', edit.text)
    assert "as you declared it; you may change it" in edit.text and "Verified" not in edit.text
    assert complete_address(client, draft_id, taxpayer_name="CHAN Tai-man").status_code == 200
    calls = provider.userinfo_calls
    submitted = client.post(f"/forms/api/submissions/{draft_id}/submit")
    assert submitted.status_code == 200, submitted.text
    assert provider.userinfo_calls == calls  # nothing verified to check again
    assert submitted.json()["answers"]["taxpayer_name"] == "CHAN Tai-man"


def test_verified_claims_of_another_trust_framework_are_not_relied_on(client, provider, proofed_resident):
    provider.proofed[proofed_resident]["trust_framework"] = "somewhere_else"
    draft_id = address_draft(client)
    prefill(client, provider, proofed_resident, draft_id)
    draft = client.get(f"/forms/api/submissions/{draft_id}").json()
    assert draft["prefill"]["taxpayer_name"]["verified"] is False
    assert draft["identity_level"] == "self_asserted"


def test_a_value_that_changed_at_the_source_is_refused_at_submission(client, provider, proofed_resident):
    draft_id = address_draft(client)
    prefill(client, provider, proofed_resident, draft_id)
    complete_address(client, draft_id)
    # the proofed record says otherwise now
    provider.proofed[proofed_resident]["claims"]["hkid_number"] = "B765432(1)"
    refused = client.post(f"/forms/api/submissions/{draft_id}/submit")
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {
            "field": "hkid",
            "code": "prefill",
            "message": {
                "en": (
                    "Hong Kong identity card number must be as in your identity record; "
                    "fill it from your identity again"
                ),
                "zh-HK": "香港身份證號碼必須與你的身份資料相同；請再次從身份資料填寫",
            },
        }
    ]
    assert client.get(f"/forms/api/submissions/{draft_id}").json()["status"] == "draft"


def test_a_verified_answer_is_checked_against_verified_claims_never_ordinary_ones(
    client, provider, proofed_resident
):
    draft_id = address_draft(client)
    prefill(client, provider, proofed_resident, draft_id)
    complete_address(client, draft_id)
    del provider.proofed[proofed_resident]  # the same values now come as ordinary claims only
    refused = client.post(f"/forms/api/submissions/{draft_id}/submit")
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"taxpayer_name", "hkid"}
    assert client.get(f"/forms/api/submissions/{draft_id}").json()["status"] == "draft"


def test_an_expired_release_is_refreshed_and_a_revoked_one_asks_to_prefill_again(
    client, provider, proofed_resident
):
    resident = proofed_resident
    draft_id = address_draft(client)
    prefill(client, provider, resident, draft_id)
    complete_address(client, draft_id)
    for grant in provider.access_tokens.values():
        grant["exp"] = 0
    provider.refresh_tokens.clear()  # the provider revoked the grant
    refused = client.post(f"/forms/api/submissions/{draft_id}/submit")
    assert refused.status_code == 409 and refused.json()["code"] == "prefill_recheck_needed"
    prefill(client, provider, resident, draft_id)
    for grant in provider.access_tokens.values():
        grant["exp"] = 0
    submitted = client.post(f"/forms/api/submissions/{draft_id}/submit")
    assert submitted.status_code == 200, submitted.text
    assert provider.token_calls[-1]["grant_type"] == "refresh_token"


def test_prefill_is_for_the_signed_in_resident_only(client, provider, resident):
    draft_id = address_draft(client)
    _, done = prefill(client, provider, "somebody-else", draft_id)
    assert done.status_code == 400 and "another person" in done.text
    assert "taxpayer_name" not in client.get(f"/forms/api/submissions/{draft_id}").json()["answers"]
    _, declined = prefill(client, provider, resident, draft_id, deny=True)
    assert declined.headers["location"].endswith("notice=prefill_declined")
    page = client.get(f"/forms/submissions/{draft_id}/prefill")
    forged = client.post(
        f"/forms/submissions/{draft_id}/prefill", data={"csrf_token": "forged"}, follow_redirects=False
    )
    assert forged.status_code == 403 and page.status_code == 200


def test_sign_out_ends_the_hub_session(client, provider, resident):
    page = client.get("/forms/my")
    out = client.post("/forms/auth/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith(
        "http://testserver/logout?client_id=forms-hub"
    )
    assert client.get("/forms/api/submissions").status_code == 401


def test_a_provider_with_a_par_endpoint_gets_the_request_pushed(client, provider):
    provider.par = True
    start = client.get("/forms/auth/login", follow_redirects=False)
    front = {k: v[0] for k, v in parse_qs(urlsplit(start.headers["location"]).query).items()}
    # The browser carries the pushed request's URI; the request itself went to /par.
    assert set(front) == {"client_id", "request_uri", "ui_locales"}
    pushed = provider.pushed[front["request_uri"]]
    assert pushed["code_challenge_method"] == "S256" and pushed["state"] and pushed["nonce"]
    done = client.get(local(provider.authorize(start.headers["location"], "acct-1")), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/forms/my"
    assert "forms_session" in client.cookies


def test_a_refused_push_is_a_page_and_no_redirect(client, provider):
    provider.par = provider.refuse_par = True
    refused = client.get("/forms/auth/login", follow_redirects=False)
    assert refused.status_code == 502 and "refused this sign-in request" in refused.text
    assert "location" not in refused.headers
