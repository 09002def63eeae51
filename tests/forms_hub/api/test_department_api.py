"""Departments work their own queue over the API with client_credentials tokens (verified
locally against the provider's JWKS); officers do the same through their hub session.
Approving a licence application issues a licence that anyone can verify."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from forms_hub.licences import repository as licences
from forms_hub.licences.service import send_expiry_reminders
from kit.db import session_scope
from tests.forms_hub.conftest import PDF, department, restaurant_answers, sign_in, toilet_answers


def submit(client, form, answers, key, files=()):
    draft = client.post("/forms/api/submissions", json={"form": form, "answers": answers})
    assert draft.status_code == 201, draft.text
    draft_id = draft.json()["id"]
    for name, filename, data in files:
        upload = client.post(
            f"/forms/api/submissions/{draft_id}/attachments",
            data={"name": name},
            files={"file": (filename, data)},
        )
        assert upload.status_code == 201, upload.text
    done = client.post(f"/forms/api/submissions/{draft_id}/submit", headers={"Idempotency-Key": key})
    assert done.status_code == 200, done.text
    return done.json()


@pytest.fixture
def restaurant(client, resident):
    return submit(
        client, "food-business-licence", restaurant_answers(), "r1", [("layout_plan", "plan.pdf", PDF)]
    )


def test_the_queue_shows_only_the_departments_own_submissions(client, provider, restaurant):
    toilet = submit(client, "public-toilet-fault-report", toilet_answers(), "t1")
    address = submit(
        client,
        "change-of-address",
        {
            "taxpayer_name": "CHAN Tai Man",
            "hkid": "A123456(3)",
            "flat_floor": "Flat 12A",
            "building_street": "1 Harbour Road",
            "district": "wan-chai",
            "effective_date": "2025-01-31",
            "declaration": True,
        },
        "a1",
    )
    fehd = client.get(
        "/forms/api/department/submissions", headers=department(client, provider, "FEHD")
    ).json()
    assert [i["reference"] for i in fehd["items"]] == [restaurant["reference"], toilet["reference"]]
    ird = client.get("/forms/api/department/submissions", headers=department(client, provider, "IRD")).json()
    assert [i["reference"] for i in ird["items"]] == [address["reference"]]
    only_restaurants = client.get(
        "/forms/api/department/submissions?form=food-business-licence&sort=newest&limit=1",
        headers=department(client, provider, "FEHD"),
    ).json()
    assert [i["reference"] for i in only_restaurants["items"]] == [restaurant["reference"]]
    paged = client.get(
        "/forms/api/department/submissions?limit=1", headers=department(client, provider, "FEHD")
    ).json()
    following = client.get(
        f"/forms/api/department/submissions?limit=1&cursor={paged['next_cursor']}",
        headers=department(client, provider, "FEHD"),
    ).json()
    assert following["items"][0]["reference"] == toilet["reference"] and following["next_cursor"] is None
    other = client.get(
        f"/forms/api/department/submissions/{restaurant['reference']}",
        headers=department(client, provider, "IRD"),
    )
    assert other.status_code == 404
    acting = client.post(
        f"/forms/api/department/submissions/{restaurant['reference']}/transitions",
        json={"action": "approve"},
        headers=department(client, provider, "IRD"),
    )
    assert acting.status_code == 404
    bad_status = client.get(
        "/forms/api/department/submissions?status=draft", headers=department(client, provider, "FEHD")
    )
    assert bad_status.status_code == 422
    bad_cursor = client.get(
        "/forms/api/department/submissions?cursor=xyz", headers=department(client, provider, "FEHD")
    )
    assert bad_cursor.status_code == 422


def test_review_request_information_resubmit_approve_issues_a_licence(
    client, provider, restaurant, disclosures, forms_runtime
):
    fehd = department(client, provider, "FEHD")
    ref = restaurant["reference"]
    url = f"/forms/api/department/submissions/{ref}/transitions"
    case = client.get(f"/forms/api/department/submissions/{ref}", headers=fehd).json()
    assert (
        case["answers"]["business_name"] == "Harbour Noodles"
        and case["attachments"][0]["name"] == "layout_plan"
    )
    early = client.post(url, json={"action": "approve"}, headers=fehd)
    assert early.status_code == 409 and early.json()["code"] == "illegal_transition"
    assert client.post(url, json={"action": "start_review"}, headers=fehd).json()["status"] == "in_review"
    no_reason = client.post(url, json={"action": "request_info"}, headers=fehd)
    assert no_reason.status_code == 422
    asked = client.post(
        url, json={"action": "request_info", "reason": "Send a plan that shows the toilets."}, headers=fehd
    )
    assert asked.json()["status"] == "info_requested"
    mine = client.get(f"/forms/api/submissions/{restaurant['id']}").json()
    assert (
        mine["status"] == "info_requested"
        and mine["history"][-1]["reason"] == "Send a plan that shows the toilets."
    )
    assert mine["history"][-1]["actor"] is None  # the back-end's identity is not shown to the resident
    extra = client.post(
        f"/forms/api/submissions/{restaurant['id']}/attachments",
        data={"name": "layout_plan"},
        files={"file": ("v2.pdf", PDF)},
    )
    assert extra.status_code == 201
    answered = client.post(
        f"/forms/api/submissions/{restaurant['id']}/resubmit",
        json={"answers": restaurant_answers(seats=36), "note": "New plan"},
    )
    assert answered.status_code == 200 and answered.json()["status"] == "in_review"
    assert len(disclosures.entries) == 2 and "attachment:layout_plan" in disclosures.entries[1]["fields"]
    approved = client.post(
        url, json={"action": "approve", "conditions": ["No cooking on the pavement."]}, headers=fehd
    )
    assert approved.status_code == 200, approved.text
    number = approved.json()["licence"]
    assert number.startswith("FEHDL-")
    again = client.post(url, json={"action": "reject", "reason": "changed my mind"}, headers=fehd)
    assert again.status_code == 409
    history = [(e["action"], e["from"], e["to"]) for e in approved.json()["history"]]
    assert history[2:] == [
        ("start_review", "submitted", "in_review"),
        ("request_info", "in_review", "info_requested"),
        ("resubmit", "info_requested", "in_review"),
        ("approve", "in_review", "approved"),
    ]
    assert approved.json()["history"][-1]["actor_kind"] == "department_system"

    client.cookies.clear()
    public = client.get(f"/forms/api/licences/{number}/verification").json()
    assert public["status"] == "valid" and public["licence_type"] == "general-restaurant"
    assert public["department"] == "FEHD" and "holder" not in str(public) and "CHAN" not in str(public)
    page = client.get(f"/forms/verify/{number}")
    assert page.status_code == 200 and "Valid" in page.text and "CHAN" not in page.text
    assert client.get("/forms/api/licences/FEHDL-2025-ABCDEFG/verification").json()["status"] == "not_found"

    suspended = client.post(
        f"/forms/api/department/licences/{number}/transitions",
        json={"action": "suspend", "reason": "Hygiene inspection failed"},
        headers=fehd,
    )
    assert suspended.json()["status"] == "suspended"
    assert client.get(f"/forms/api/licences/{number}/verification").json()["status"] == "suspended"
    wrong_dept = client.post(
        f"/forms/api/department/licences/{number}/transitions",
        json={"action": "revoke", "reason": "x"},
        headers=department(client, provider, "TD"),
    )
    assert wrong_dept.status_code == 404
    for db in session_scope(forms_runtime.sessions):
        licence = licences.by_number(db, number)
        assert licence.conditions[-1] == "No cooking on the pavement."
        assert [e.action for e in licences.history(db, licence.id)] == ["issue", "suspend"]


def test_rejection_needs_a_reason_and_is_final(client, provider, restaurant):
    fehd = department(client, provider, "FEHD")
    url = f"/forms/api/department/submissions/{restaurant['reference']}/transitions"
    assert client.post(url, json={"action": "reject", "reason": "  "}, headers=fehd).status_code == 422
    assert (
        client.post(url, json={"action": "reject", "reason": "Premises not suitable"}, headers=fehd).json()[
            "status"
        ]
        == "rejected"
    )
    assert client.post(f"/forms/api/submissions/{restaurant['id']}/withdraw", json={}).status_code == 409
    assert client.post(url, json={"action": "frobnicate"}, headers=fehd).status_code == 422


def test_department_tokens_are_verified_locally(client, provider, restaurant):
    url = "/forms/api/department/submissions"
    assert client.get(url, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 401
    wrong_scope = provider.department_token("FEHD", scope="ledger:department")
    response = client.get(url, headers={"Authorization": f"Bearer {wrong_scope}"})
    assert (
        response.status_code == 403 and 'error="insufficient_scope"' in response.headers["www-authenticate"]
    )
    other_audience = provider.department_token("FEHD", aud=["http://testserver/consent"])
    assert client.get(url, headers={"Authorization": f"Bearer {other_audience}"}).status_code == 401
    expired = provider.department_token("FEHD", exp=int(time.time()) - 3600)
    assert client.get(url, headers={"Authorization": f"Bearer {expired}"}).status_code == 401
    other_issuer = provider.department_token("FEHD", iss="https://evil.example")
    assert client.get(url, headers={"Authorization": f"Bearer {other_issuer}"}).status_code == 401
    unknown_key = provider.sign(
        {"iss": provider.issuer, "scope": "forms:department"}, typ="at+jwt", kid="nope"
    )
    assert client.get(url, headers={"Authorization": f"Bearer {unknown_key}"}).status_code == 401
    id_token_like = provider.sign(
        {
            "iss": provider.issuer,
            "aud": f"{provider.issuer}/forms",
            "exp": int(time.time()) + 60,
            "scope": "forms:department",
        }
    )
    assert client.get(url, headers={"Authorization": f"Bearer {id_token_like}"}).status_code == 401
    unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + restaurant["receipt"].split(".")[1] + "."
    assert client.get(url, headers={"Authorization": f"Bearer {unsigned}"}).status_code == 401
    a_residents_token = provider.department_token("FEHD", sub="some-resident")
    assert client.get(url, headers={"Authorization": f"Bearer {a_residents_token}"}).status_code == 403
    client.cookies.clear()
    assert client.get(url).status_code == 401


def test_provider_keys_that_cannot_be_fetched_are_a_503_not_a_401(client, provider):
    provider.jwks = {"keys": "withdrawn"}  # not a JWK Set: as good as unreachable
    response = client.get("/forms/api/department/submissions", headers=department(client, provider, "FEHD"))
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "www-authenticate" not in response.headers


def test_refusals_carry_the_forms_realm(client, provider):
    url = "/forms/api/department/submissions"
    assert client.get(url).headers["www-authenticate"] == 'Bearer realm="forms"'
    refused = client.get(url, headers={"Authorization": "Bearer not-a-jwt"})
    assert refused.headers["www-authenticate"] == 'Bearer realm="forms", error="invalid_token"'


def test_an_officer_works_the_queue_through_the_hub_session(client, provider, restaurant):
    sign_in(client, provider, "officer-fehd-1", roles=["officer"], department="FEHD")
    queue = client.get("/forms/api/department/submissions?assigned=none").json()
    assert [i["reference"] for i in queue["items"]] == [restaurant["reference"]]
    url = f"/forms/api/department/submissions/{restaurant['reference']}"
    assigned = client.post(f"{url}/assignment", json={"assignee": "me"}).json()
    assert assigned["assigned_to"] == "officer-fehd-1"
    assert client.post(f"{url}/assignment", json={"assignee": "officer-2"}).status_code == 422
    mine = client.get("/forms/api/department/submissions?assigned=me").json()
    assert len(mine["items"]) == 1
    assert client.post(f"{url}/transitions", json={"action": "start_review"}).json()["status"] == "in_review"
    assert client.get("/forms/api/submissions").status_code == 401  # an officer is not a resident here
    sign_in(client, provider, "officer-td-1", roles=["officer"], department="TD")
    assert client.get(url).status_code == 404
    sign_in(client, provider, "clerk-fehd", roles=["auditor"], department="FEHD")
    assert client.get("/forms/api/department/submissions").status_code == 403


def test_renewal_inside_the_window_and_expiry_reminders(
    client, provider, restaurant, forms_runtime, clock, resident
):
    fehd = department(client, provider, "FEHD")
    url = f"/forms/api/department/submissions/{restaurant['reference']}/transitions"
    client.post(url, json={"action": "start_review"}, headers=fehd)
    number = client.post(url, json={"action": "approve"}, headers=fehd).json()["licence"]
    mine = client.get("/forms/api/licences").json()["items"]
    assert (
        mine[0]["number"] == number
        and mine[0]["holder_name"] == "CHAN Tai Man"
        and mine[0]["can_renew"] is False
    )
    early = client.post(f"/forms/api/licences/{number}/renewal")
    assert early.status_code == 409
    start = clock()
    for db in session_scope(forms_runtime.sessions):
        assert send_expiry_reminders(db, start) == 0
        reminder_time = start + timedelta(days=365 - 59)
        assert send_expiry_reminders(db, reminder_time) == 1
        assert send_expiry_reminders(db, reminder_time) == 0
    clock.set(start + timedelta(days=300))
    sign_in(client, provider, resident)
    assert client.get("/forms/api/licences").json()["items"][0]["can_renew"] is True
    renewal = client.post(f"/forms/api/licences/{number}/renewal")
    assert renewal.status_code == 201, renewal.text
    draft = renewal.json()
    assert draft["renews_licence"] == number and draft["answers"]["business_name"] == "Harbour Noodles"
    assert client.post(f"/forms/api/licences/{number}/renewal").status_code == 409  # one at a time
    client.post(
        f"/forms/api/submissions/{draft['id']}/attachments",
        data={"name": "layout_plan"},
        files={"file": ("plan.pdf", PDF)},
    )
    renewed = client.post(f"/forms/api/submissions/{draft['id']}/submit").json()
    assert "reference" in renewed, renewed["errors"]
    url2 = f"/forms/api/department/submissions/{renewed['reference']}/transitions"
    # Tokens are checked against the hub's clock, now 300 days ahead: the provider issues
    # this one at the hub's "now", as it would if time had really passed.
    issued = int(clock().timestamp())
    fehd = {"Authorization": f"Bearer {provider.department_token('FEHD', iat=issued, exp=issued + 600)}"}
    client.post(url2, json={"action": "start_review"}, headers=fehd)
    new_number = client.post(url2, json={"action": "approve"}, headers=fehd).json()["licence"]
    new = client.get(f"/forms/api/licences/{new_number}/verification").json()
    old = client.get(f"/forms/api/licences/{number}/verification").json()
    assert new["valid_from"] == old["valid_to"]  # continues without a gap
    notes = [n["kind"] for n in client.get("/forms/api/notifications").json()["items"]]
    assert "licence_expiring" in notes
