"""The disclosure record in the page's language: a purpose, a legal basis and each detail in
Chinese on the Chinese page, from the texts kept beside the entry, the consent grant or the
department's client; the entry's own English words, marked as English, when nothing else is
known. The export keeps the entry's own words."""

from __future__ import annotations

import json

from consent.port import LedgerConsentPort
from identity.accounts.service import record_event
from identity.clients.service import Registration, register
from tests.identity.accounts.factories import create_resident


def _entry(port, db, runtime, account_id, **overrides) -> str:
    entry = dict(
        resident_id=account_id,
        client_id="forms-hub",
        department="FEHD",
        channel="form_submission",
        fields=["attachment:photos", "email"],
        purpose="To follow up your report",
        grant_id=None,
        legal_basis="Application made by the resident (public-toilet-fault-report v1)",
        request_id="req-1",
        now=runtime.clock(),
    )
    entry.update(overrides)
    return port.record_disclosure(db, **entry)


def test_the_record_reads_in_the_pages_language(browser, db, runtime):
    account, form = create_resident(db, runtime)
    client, _ = register(
        db,
        runtime.master_key,
        Registration(
            name="Licensing",
            name_zh="牌照服務",
            department="TD",
            redirect_uris=["https://td.example/cb"],
            purpose="Driving licence renewal",
            purpose_zh="續領駕駛執照",
            legal_basis="Road Traffic Ordinance (Cap. 374)",
        ),
        runtime.clock(),
    )
    port = LedgerConsentPort()
    texts = {
        "purpose": {"en": "To follow up your report", "zh-HK": "跟進你的舉報"},
        "legal_basis": {
            "en": "Application made by the resident (Toilet report, version 1)",
            "zh-HK": "居民提出的申請（舉報公廁故障，第 1 版）",
        },
        "fields": {"attachment:photos": {"en": "Photos of the fault", "zh-HK": "故障相片"}},
    }
    _entry(port, db, runtime, account.id, texts=texts)
    _entry(
        port,
        db,
        runtime,
        account.id,
        client_id=client.client_id,
        department="TD",
        channel="userinfo",
        fields=["name"],
        purpose="Driving licence renewal",
        legal_basis="Road Traffic Ordinance (Cap. 374)",
        request_id="req-2",
    )
    _entry(port, db, runtime, account.id, client_id="gone", purpose="Old purpose", request_id="req-3")
    db.flush()
    browser.sign_in(form["email"])

    chinese = browser.get("/account/disclosures?lang=zh-HK").text
    for words in ("跟進你的舉報", "居民提出的申請（舉報公廁故障，第 1 版）", "故障相片", "續領駕駛執照"):
        assert words in chinese
    assert "食物環境衞生署" in chinese and "運輸署" in chinese and "FEHD" not in chinese
    assert "To follow up your report" not in chinese and "Driving licence renewal" not in chinese
    # Only the entry's own words are known: shown, and marked as English for screen readers.
    assert '<span lang="en">Old purpose</span>' in chinese
    assert '<span lang="en">Road Traffic Ordinance (Cap. 374)</span>' in chinese

    english = browser.get("/account/disclosures?lang=en").text
    assert "Application made by the resident (Toilet report, version 1)" in english
    assert "Photos of the fault" in english and "Driving licence renewal" in english
    assert "跟進你的舉報" not in english

    exported = json.loads(browser.get("/account/disclosures?format=json").text)
    assert {row["purpose"] for row in exported} == {
        "To follow up your report",
        "Driving licence renewal",
        "Old purpose",
    }
    assert "Application made by the resident (public-toilet-fault-report v1)" in {
        row["legal_basis"] for row in exported
    }


def test_activity_names_every_event_and_its_department(browser, db, runtime):
    account, form = create_resident(db, runtime)
    for tag in ("consent.revoked", "device.bound", "app.approved", "account.guessed_at"):
        record_event(db, account.id, tag, None, runtime.clock(), department="TD")
    db.flush()
    browser.sign_in(form["email"])
    chinese = browser.get("/account/activity?lang=zh-HK").text
    assert "已撤回同意 (運輸署)" in chinese and "已在應用程式批准登入" in chinese
    assert "此欄位的資料有問題" not in chinese
    english = browser.get("/account/activity?lang=en").text
    assert "Consent withdrawn (Transport Department)" in english
    assert "Something is not right" not in english
