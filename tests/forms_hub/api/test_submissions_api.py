"""The resident's API: drafts, submission with Idempotency-Key, reference number, receipt,
bilingual per-field errors, withdrawal, notifications, and what bad input leaves behind."""

from __future__ import annotations

import pytest
from jose import jwt as jose_jwt

from forms_hub.submissions.numbers import is_well_formed
from kit.db import session_scope
from tests.forms_hub.conftest import PNG, sign_in, toilet_answers

pytestmark = pytest.mark.usefixtures("resident")


def submit_toilet(client, key="key-1", **overrides):
    return client.post(
        "/forms/api/submissions",
        json={"form": "public-toilet-fault-report", "answers": toilet_answers(**overrides), "submit": True},
        headers={"Idempotency-Key": key},
    )


def test_published_forms_are_listed_for_anyone(client):
    client.cookies.clear()
    listing = client.get("/forms/api/forms").json()["items"]
    assert {f["slug"] for f in listing} >= {
        "change-of-address",
        "driving-licence-renewal",
        "food-business-licence",
        "public-toilet-fault-report",
        "elderly-gerontech-subsidy",
    }
    form = client.get("/forms/api/forms/food-business-licence").json()
    assert form["version"] == 1 and form["licence"]["type"] == "general-restaurant"
    assert form["fields"]["business_name"]["label"] == {
        "en": "Restaurant name in English",
        "zh-HK": "食肆英文名稱",
    }


def test_submit_gives_a_reference_a_verifiable_receipt_and_a_ledger_entry(
    client, clock, receipts, disclosures, resident
):
    response = submit_toilet(client)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "submitted"
    assert body["reference"].startswith(f"FEHD-{clock().year}-") and is_well_formed(body["reference"])
    assert not set(body["reference"].split("-")[-1]) & set("IO01")
    claims = receipts.verify(body["receipt"])
    assert claims["reference"] == body["reference"] and claims["answers_sha256"] == body["answers_sha256"]
    assert "CHAN" not in str(claims) and "blocked" not in str(claims)  # no answers in a receipt
    # Anyone can check it with the published key alone.
    jwks = client.get("/forms/.well-known/jwks.json").json()
    key = next(k for k in jwks["keys"] if k["kid"] == jose_jwt.get_unverified_header(body["receipt"])["kid"])
    assert jose_jwt.decode(body["receipt"], key, algorithms=["ES256"])["reference"] == body["reference"]
    assert (
        client.post("/forms/api/receipts/verify", json={"receipt": body["receipt"]}).json()["valid"] is True
    )
    [entry] = disclosures.entries
    assert entry["channel"] == "form_submission" and entry["department"] == "FEHD"
    assert entry["resident_sub"] == resident and entry["client_id"] == "forms-hub"
    assert entry["fields"] == sorted(toilet_answers())
    assert entry["purpose"] == "To follow up your report and contact you if needed"
    assert [e["action"] for e in body["history"]] == ["create", "submit"]


def test_a_retry_with_the_same_key_is_one_submission_and_another_body_is_refused(client, disclosures):
    first = submit_toilet(client)
    again = submit_toilet(client)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["reference"] == first.json()["reference"]
    assert len(client.get("/forms/api/submissions").json()["items"]) == 1
    other = submit_toilet(client, description="A different problem with the hand dryer entirely.")
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert other.headers["content-type"] == "application/problem+json"
    assert len(disclosures.entries) == 1
    missing = client.post(
        "/forms/api/submissions",
        json={"form": "public-toilet-fault-report", "answers": toilet_answers(), "submit": True},
    )
    assert missing.status_code == 428


def test_invalid_answers_get_bilingual_messages_per_field_and_change_nothing(client, disclosures):
    response = submit_toilet(client, district="atlantis", description="short", extra="x")
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_answers" and problem["status"] == 422
    errors = {e["field"]: e for e in problem["errors"]}
    assert set(errors) == {"district", "description", "extra"}
    assert errors["description"]["message"] == {
        "en": "Describe the fault must be 10 characters or more",
        "zh-HK": "描述故障情況最少須有10個字元",
    }
    assert errors["district"]["message"]["zh-HK"] == "請從選項中選擇地區"
    missing = submit_toilet(client, key="k2", toilet_location=None)
    assert missing.status_code == 422  # None is not a string
    assert client.get("/forms/api/submissions").json()["items"] == []
    assert disclosures.entries == []


def test_required_answers_are_checked_at_submission_not_when_saving_a_draft(client):
    draft = client.post(
        "/forms/api/submissions",
        json={"form": "public-toilet-fault-report", "answers": {"district": "islands"}},
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft"
    draft_id = draft.json()["id"]
    refused = client.post(f"/forms/api/submissions/{draft_id}/submit")
    assert refused.status_code == 422
    assert {e["field"] for e in refused.json()["errors"]} == {"toilet_location", "fault_type", "description"}
    assert refused.json()["errors"][0]["message"]["en"] == "Enter Name or location of the toilet"
    saved = client.put(f"/forms/api/submissions/{draft_id}/answers", json={"answers": toilet_answers()})
    assert saved.status_code == 200
    done = client.post(
        f"/forms/api/submissions/{draft_id}/submit", headers={"Idempotency-Key": "page-token-1"}
    )
    assert done.status_code == 200 and done.json()["status"] == "submitted"
    replay = client.post(
        f"/forms/api/submissions/{draft_id}/submit", headers={"Idempotency-Key": "page-token-1"}
    )
    assert (
        replay.json()["reference"] == done.json()["reference"]
        and replay.headers["Idempotent-Replayed"] == "true"
    )
    twice = client.post(f"/forms/api/submissions/{draft_id}/submit")
    assert twice.status_code == 409 and twice.json()["code"] == "already_submitted"
    changed = client.put(f"/forms/api/submissions/{draft_id}/answers", json={"answers": toilet_answers()})
    assert changed.status_code == 409


def test_unknown_unpublished_and_retired_forms_are_refused(client, forms_runtime, clock):
    from forms_hub.definitions.service import retire

    assert submit_toilet(client).status_code == 201
    unknown = client.post("/forms/api/submissions", json={"form": "no-such-form", "answers": {}})
    assert unknown.status_code == 404
    draft = client.post("/forms/api/submissions", json={"form": "change-of-address", "answers": {}}).json()
    for db in session_scope(forms_runtime.sessions):
        retire(db, "change-of-address", clock())
    closed = client.post(f"/forms/api/submissions/{draft['id']}/submit")
    assert closed.status_code == 409 and closed.json()["code"] == "form_not_open"
    assert (
        client.post("/forms/api/submissions", json={"form": "change-of-address", "answers": {}}).status_code
        == 404
    )


def test_another_residents_submission_is_not_found(client, provider):
    mine = submit_toilet(client).json()
    sign_in(client, provider, "someone-else")
    assert client.get(f"/forms/api/submissions/{mine['id']}").status_code == 404
    assert client.post(f"/forms/api/submissions/{mine['id']}/withdraw", json={}).status_code == 404
    assert client.get("/forms/api/submissions").json()["items"] == []


def test_withdraw_before_a_decision_with_history_and_notifications(client):
    submitted = submit_toilet(client).json()
    withdrawn = client.post(
        f"/forms/api/submissions/{submitted['id']}/withdraw", json={"reason": "Fixed already"}
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    history = withdrawn.json()["history"]
    assert [(e["action"], e["from"], e["to"]) for e in history][-1] == ("withdraw", "submitted", "withdrawn")
    again = client.post(f"/forms/api/submissions/{submitted['id']}/withdraw", json={})
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"
    notes = client.get("/forms/api/notifications").json()
    assert notes["unread"] == 2
    assert notes["items"][0]["text"]["en"].endswith("is now withdrawn. (Fixed already)")
    assert "已撤回" in notes["items"][0]["text"]["zh-HK"]
    assert client.post("/forms/api/notifications/read", json={}).json()["marked"] == 2


def test_the_api_needs_a_session_and_refuses_cross_site_writes(client):
    assert (
        client.post(
            "/forms/api/submissions", json={"form": "x"}, headers={"Origin": "https://evil.example"}
        ).status_code
        == 403
    )
    client.cookies.clear()
    anonymous = client.get("/forms/api/submissions")
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
    client.cookies.set("forms_session", "abc.def", path="/forms")
    assert client.get("/forms/api/submissions").status_code == 401


def test_discarding_a_draft_and_drafts_expire(client, forms_runtime, clock, storage, provider, resident):
    from datetime import timedelta

    first = client.post(
        "/forms/api/submissions", json={"form": "public-toilet-fault-report", "answers": {}}
    ).json()
    assert client.delete(f"/forms/api/submissions/{first['id']}").status_code == 204
    assert client.get(f"/forms/api/submissions/{first['id']}").status_code == 404
    second = client.post(
        "/forms/api/submissions", json={"form": "public-toilet-fault-report", "answers": toilet_answers()}
    ).json()
    clock.set(clock() + timedelta(days=31))
    sign_in(client, provider, resident)  # the hub session ended long ago too
    assert client.get(f"/forms/api/submissions/{second['id']}").status_code == 404
    assert client.get("/forms/api/submissions").json()["items"] == []
    from forms_hub.submissions.service import purge_expired_drafts

    for db in session_scope(forms_runtime.sessions):
        assert purge_expired_drafts(db, storage, clock()) == 1


def test_attachment_content_decides_its_type(client, storage):
    draft = client.post(
        "/forms/api/submissions", json={"form": "public-toilet-fault-report", "answers": toilet_answers()}
    ).json()
    url = f"/forms/api/submissions/{draft['id']}/attachments"
    ok = client.post(url, data={"name": "photos"}, files={"file": ("fault.png", PNG, "image/png")})
    assert ok.status_code == 201, ok.text
    assert ok.json()["media_type"] == "image/png" and len(ok.json()["sha256"]) == 64
    disguised = client.post(url, data={"name": "photos"}, files={"file": ("fault.jpg", PNG, "image/jpeg")})
    assert disguised.status_code == 422 and "PNG" in disguised.json()["detail"]
    script = client.post(
        url, data={"name": "photos"}, files={"file": ("fault.png", b"<script>alert(1)</script>", "image/png")}
    )
    assert script.status_code == 422 and script.json()["code"] == "attachment_rejected"
    pdf_not_allowed = client.post(
        url, data={"name": "photos"}, files={"file": ("a.pdf", b"%PDF-1.4 x", "application/pdf")}
    )
    assert pdf_not_allowed.status_code == 422
    huge = client.post(
        url, data={"name": "photos"}, files={"file": ("big.png", PNG + b"\x00" * 5_300_000, "image/png")}
    )
    assert huge.status_code == 413 and huge.json()["code"] == "attachment_too_large"
    unknown = client.post(url, data={"name": "selfie"}, files={"file": ("a.png", PNG, "image/png")})
    assert unknown.status_code == 422
    assert len(storage.files) == 1
    submitted = client.post(f"/forms/api/submissions/{draft['id']}/submit").json()
    receipt = submitted["receipt"]
    from jose import jwt

    assert jwt.get_unverified_claims(receipt)["attachments"][0]["sha256"] == ok.json()["sha256"]
    download = client.get(f"{url}/{ok.json()['id']}")
    assert download.content == PNG and download.headers["x-content-type-options"] == "nosniff"
    assert client.delete(f"{url}/{ok.json()['id']}").status_code == 409  # sent to the department


def test_one_request_submits_answers_and_files(client, storage, disclosures):
    import json

    url = "/forms/api/forms/food-business-licence/submissions"
    from tests.forms_hub.conftest import PDF, restaurant_answers

    parts = {
        "answers": (None, json.dumps(restaurant_answers())),
        "layout_plan": ("plan.pdf", PDF, "application/pdf"),
    }
    first = client.post(url, files=parts, headers={"Idempotency-Key": "one-shot"})
    assert first.status_code == 201, first.text
    assert first.json()["attachments"][0]["name"] == "layout_plan" and first.json()["status"] == "submitted"
    again = client.post(url, files=parts, headers={"Idempotency-Key": "one-shot"})
    assert again.status_code == 200 and again.json()["reference"] == first.json()["reference"]
    other = {**parts, "layout_plan": ("plan.pdf", PDF + b" ", "application/pdf")}
    assert client.post(url, files=other, headers={"Idempotency-Key": "one-shot"}).status_code == 422
    no_file = client.post(
        url, files={"answers": (None, json.dumps(restaurant_answers()))}, headers={"Idempotency-Key": "k2"}
    )
    assert no_file.status_code == 422 and no_file.json()["errors"][0]["field"] == "layout_plan"
    disguised = {**parts, "layout_plan": ("plan.pdf", PNG, "application/pdf")}
    refused = client.post(url, files=disguised, headers={"Idempotency-Key": "k3"})
    assert refused.status_code == 422 and refused.json()["code"] == "attachment_rejected"
    bad_json = client.post(url, files={"answers": (None, "[1, 2")}, headers={"Idempotency-Key": "k4"})
    assert bad_json.status_code == 422
    assert len(client.get("/forms/api/submissions").json()["items"]) == 1 and len(disclosures.entries) == 1
    assert len(storage.files) == 1


def test_status_changes_are_emailed_through_the_outbox(client, forms_runtime, clock, tmp_path):
    import json

    from forms_hub.submissions.outbox import deliver_pending
    from kit.outbox import FileDelivery

    submitted = submit_toilet(client, email="resident@example.hk")
    client.post(f"/forms/api/submissions/{submitted.json()['id']}/withdraw", json={})
    submit_toilet(client, key="no-email")  # no address given: the list only
    outbox = tmp_path / "outbox"
    for db in session_scope(forms_runtime.sessions):
        assert deliver_pending(db, forms_runtime.master_key, FileDelivery(outbox), clock()) == 2
        assert deliver_pending(db, forms_runtime.master_key, FileDelivery(outbox), clock()) == 0
    first, second = (json.loads(p.read_text()) for p in sorted(outbox.glob("*.json")))
    assert first["to"] == "resident@example.hk" and submitted.json()["reference"] in first["subject"]
    assert (
        "is now submitted" in first["body"]
        and "已提交" in first["body"]
        and "is now withdrawn" in second["body"]
    )
    assert oct(next(outbox.glob("*.json")).stat().st_mode & 0o777) == "0o600"
