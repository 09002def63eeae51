"""A form that needs an identity level (``min_identity_level``): the level comes from the
verified_claims of the form's identity release, a resident below it gets a page and the API a
403, and submitting checks the level again against a fresh release."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlsplit

from tests.forms_hub.conftest import ADMIN_TOKEN, sign_in, toilet_answers
from tests.forms_hub.definitions.test_document import demo
from tests.forms_hub.oidc_client.test_sign_in_and_prefill import prefill

DRIVING = "driving-licence-renewal"  # a demo form that needs "remote"


def driving_answers(client, draft_id: str) -> dict:
    answers = client.get(f"/forms/api/submissions/{draft_id}").json()["answers"]
    answers.update(
        {
            "licence_number": "AB1234567",
            "vehicle_classes": ["1"],
            "medical_condition": "no",
            "declaration": True,
        }
    )
    return answers


def new_draft(client, slug: str = DRIVING) -> str:
    created = client.post("/forms/api/submissions", json={"form": slug})
    assert created.status_code == 201, created.text
    return created.json()["id"]


def submit(client, draft_id: str):
    return client.post(f"/forms/api/submissions/{draft_id}/submit", headers={"Idempotency-Key": draft_id})


def test_a_form_that_needs_a_level_is_refused_in_one_request(client, resident, disclosures):
    refused = client.post(
        "/forms/api/submissions",
        json={"form": DRIVING, "answers": {"applicant_name": "CHAN Tai Man"}, "submit": True},
        headers={"Idempotency-Key": "one-shot"},
    )
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["code"] == "identity_level_required"
    assert problem["required_level"] == "remote" and problem["identity_level"] is None
    assert problem["proofing_url"] == "http://testserver/account/identity"
    assert "proofed remotely or in person" in problem["detail"]
    assert client.get("/forms/api/submissions").json()["items"] == []  # nothing was kept
    assert disclosures.entries == []


def test_a_self_asserted_resident_gets_a_page_saying_how_to_get_proofed(
    client, provider, resident, disclosures
):
    draft_id = new_draft(client)
    edit = client.get(f"/forms/submissions/{draft_id}/edit?lang=en")
    assert "Identity level needed: An identity proofed remotely or in person" in edit.text
    assert "An identity proofed remotely or in person" in client.get("/forms/?lang=en").text
    _, done = prefill(client, provider, resident, draft_id)
    assert done.headers["location"] == f"/forms/submissions/{draft_id}/identity-level"
    page = client.get(done.headers["location"] + "?lang=en")
    assert page.status_code == 403
    for text in (
        "This form needs a proofed identity",
        "An identity proofed remotely or in person",
        "Not proofed (details entered by the resident)",
        'href="http://testserver/account/identity"',
        "bring your Hong Kong identity card to a registration counter",
        f'href="/forms/submissions/{draft_id}/prefill"',
    ):
        assert text in page.text, text
    chinese = client.get(done.headers["location"] + "?lang=zh-HK")
    assert "此表格須使用已核實的身份" in chinese.text and "經遙距或親身核實的身份" in chinese.text
    assert "遙距核實" in chinese.text and "登記櫃位" in chinese.text

    draft = client.get(f"/forms/api/submissions/{draft_id}").json()
    assert draft["identity_level"] == "self_asserted"
    assert draft["answers"]["applicant_name"] == "CHAN Tai Man"  # filled, as declared
    saved = client.put(
        f"/forms/api/submissions/{draft_id}/answers", json={"answers": driving_answers(client, draft_id)}
    )
    assert saved.status_code == 200
    refused = submit(client, draft_id)
    assert refused.status_code == 403 and refused.json()["code"] == "identity_level_required"
    assert refused.json()["identity_level"] == "self_asserted"
    assert "your identity release shows 'self_asserted'" in refused.json()["detail"]
    assert client.get(f"/forms/api/submissions/{draft_id}").json()["status"] == "draft"
    assert disclosures.entries == []
    edit = client.get(f"/forms/submissions/{draft_id}/edit?lang=en")
    assert "Your identity level is not high enough for this form." in edit.text


def test_a_resident_proofed_remotely_submits_and_the_department_sees_the_level(
    client, provider, proofed_resident
):
    provider.proofed[proofed_resident]["level"] = "remote"
    draft_id = new_draft(client)
    location, done = prefill(client, provider, proofed_resident, draft_id)
    requested = json.loads(parse_qs(urlsplit(location).query)["claims"][0])["userinfo"]
    assert requested["verified_claims"]["verification"]["assurance_level"] is None
    assert done.headers["location"] == f"/forms/submissions/{draft_id}/edit?notice=prefilled"
    nothing_to_do = client.get(f"/forms/submissions/{draft_id}/identity-level", follow_redirects=False)
    assert nothing_to_do.headers["location"] == f"/forms/submissions/{draft_id}/edit"
    client.put(
        f"/forms/api/submissions/{draft_id}/answers", json={"answers": driving_answers(client, draft_id)}
    )
    calls = provider.userinfo_calls
    submitted = submit(client, draft_id)
    assert submitted.status_code == 200, submitted.text
    assert provider.userinfo_calls == calls + 1  # the level was checked again
    body = submitted.json()
    assert body["identity_level"] == "remote"
    assert body["prefill"]["applicant_name"]["assurance_level"] == "remote"
    assert body["prefill"]["residential_address"] == {
        "claim": "address",
        "verified": False,
        "assurance_level": "self_asserted",
    }
    td = {"Authorization": f"Bearer {provider.department_token('TD')}"}
    case = client.get(f"/forms/api/department/submissions/{body['reference']}", headers=td).json()
    assert case["identity_level"] == "remote" and case["prefill"]["hkid"]["verified"] is True
    sign_in(client, provider, "officer-td", roles=["officer"], department="TD")
    officer_page = client.get(f"/forms/officer/cases/{body['reference']}?lang=en").text
    assert re.search(r'id="identity-level">Proofed remotely<', officer_page)
    assert re.search(r'id="source-hkid">\(verified from the identity: Proofed remotely\)', officer_page)
    assert 'id="source-phone">(from the identity, declared by the resident)' in officer_page


def test_a_level_lost_since_the_prefill_is_refused_at_submission(client, provider, proofed_resident):
    draft_id = new_draft(client)
    prefill(client, provider, proofed_resident, draft_id)
    client.put(
        f"/forms/api/submissions/{draft_id}/answers", json={"answers": driving_answers(client, draft_id)}
    )
    del provider.proofed[proofed_resident]  # the fresh release has no verified_claims any more
    refused = submit(client, draft_id)
    assert refused.status_code == 403 and refused.json()["identity_level"] == "self_asserted"
    draft = client.get(f"/forms/api/submissions/{draft_id}").json()
    assert draft["status"] == "draft" and draft["identity_level"] == "self_asserted"


def test_a_form_without_prefill_asks_for_the_level_alone(client, provider, proofed_resident):
    doc = demo("public-toilet-fault-report")
    doc.pop("prefill")
    doc["min_identity_level"] = "in_person"
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    loaded = client.post("/forms/api/admin/definitions?publish=true", json=doc, headers=admin)
    assert loaded.status_code == 201, loaded.text
    draft_id = new_draft(client, "public-toilet-fault-report")
    page = client.get(f"/forms/submissions/{draft_id}/prefill?lang=en")
    assert "Identity level needed: An identity proofed in person" in page.text
    location, done = prefill(client, provider, proofed_resident, draft_id)
    requested = json.loads(parse_qs(urlsplit(location).query)["claims"][0])
    assert requested == {
        "userinfo": {
            "verified_claims": {
                "verification": {"trust_framework": {"value": "hk_egate"}, "assurance_level": None},
                "claims": {"name": None},
            }
        }
    }
    assert done.headers["location"].endswith("/edit?notice=identity_level_confirmed")
    draft = client.get(f"/forms/api/submissions/{draft_id}").json()
    assert draft["answers"] == {} and draft["prefill"] == {}  # the name is not kept
    assert draft["identity_level"] == "in_person"
    client.put(f"/forms/api/submissions/{draft_id}/answers", json={"answers": toilet_answers()})
    submitted = submit(client, draft_id)
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["identity_level"] == "in_person"
