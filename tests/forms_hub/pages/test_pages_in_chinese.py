"""Whatever the hub says on a page, it says in the page's language: refusals and their
statuses, receipt checks, who did what in a case, departments by name. The API keeps its
English ``detail``. A hand-over tells the ledger how the resident should read it."""

from __future__ import annotations

from tests.forms_hub.api.test_submissions_api import submit_toilet
from tests.forms_hub.conftest import sign_in
from tests.forms_hub.oidc_client.test_sign_in_and_prefill import csrf_of


def test_refusals_on_pages_are_in_chinese_and_the_api_stays_english(client, provider, resident):
    missing = client.get("/forms/submissions/no-such-id?lang=zh-HK")
    assert (
        missing.status_code == 404
        and "沒有此申請。" in missing.text
        and "No such submission" not in missing.text
    )
    submitted = submit_toilet(client)
    assert submitted.status_code == 201, submitted.text
    case = submitted.json()
    again = client.post(
        "/forms/api/submissions",
        json={"form": "public-toilet-fault-report", "answers": {}, "submit": True},
        headers={"Idempotency-Key": "key-2"},
    )
    assert again.json()["detail"] == "Some answers are not valid."  # problem+json: English
    sign_in(client, provider, "officer-fehd", roles=["officer"], department="FEHD")
    queue = client.get("/forms/officer?lang=zh-HK")
    assert "食物環境衞生署" in queue.text and "FEHD</h1>" not in queue.text
    case_url = f"/forms/officer/cases/{case['reference']}"
    page = client.get(case_url + "?lang=zh-HK")
    assert "(居民)" in page.text and "(resident)" not in page.text
    assert "油尖旺" in page.text and "yau-tsim-mong<" not in page.text  # a choice by its label, not its code
    csrf = csrf_of(page.text)
    refused = client.post(
        f"{case_url}/action?lang=zh-HK", data={"csrf_token": csrf, "action": "approve"}
    )  # a submitted case is reviewed before it is decided
    assert refused.status_code == 409
    assert "狀態為「已提交」的申請不可進行此操作。" in refused.text
    assert "submitted" not in refused.text.split("<main", 1)[1]
    english = client.post(f"{case_url}/action?lang=en", data={"csrf_token": csrf, "action": "approve"})
    assert "This cannot be done to a submission that is Submitted." in english.text


def test_receipt_check_failures_are_in_the_pages_language(client):
    chinese = client.post("/forms/receipts/verify?lang=zh-HK", data={"receipt": "not-a-receipt"})
    assert "不是有效的收據格式" in chinese.text and "not a compact JWS" not in chinese.text
    english = client.post("/forms/receipts/verify?lang=en", data={"receipt": "not-a-receipt"})
    assert "not a compact JWS" in english.text


def test_a_hand_over_gives_the_ledger_the_forms_words_in_both_languages(client, resident, disclosures):
    assert submit_toilet(client).status_code == 201
    [entry] = disclosures.entries
    texts = entry["texts"]
    assert entry["purpose"] == texts["purpose"]["en"] == "To follow up your report and contact you if needed"
    assert texts["purpose"]["zh-HK"] == "跟進你的舉報及在有需要時聯絡你"
    assert texts["fields"]["toilet_location"] == {
        "en": "Name or location of the toilet",
        "zh-HK": "公廁名稱或位置",
    }
    assert set(texts["fields"]) == set(entry["fields"])  # every answer, by its label
    assert "legal_basis" not in texts  # the form states its own, in one language
