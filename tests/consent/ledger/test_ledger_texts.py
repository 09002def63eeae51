"""What a resident reads for a ledger entry in English and Chinese is kept beside the entry,
never in it: the hashed entry and its leaf are the same with or without texts, and a rolled
back release leaves neither."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from consent.ledger.entry import ENTRY_FIELDS, canonical_entry_bytes
from consent.ledger.models import EntryTexts, LedgerEntry
from consent.ledger.rfc9162 import leaf_hash
from consent.ledger.texts import clean

FORM_TEXTS = {
    "purpose": {"en": "To follow up your report", "zh-HK": "跟進你的舉報"},
    "legal_basis": {"en": "Application made by the resident", "zh-HK": "居民提出的申請"},
    "fields": {"attachment:photos": {"en": "Photos of the fault", "zh-HK": "故障相片"}},
}


@dataclass(frozen=True)
class Request:
    resident_id: str = "resident-a"
    client_id: str = "td-licensing"
    department: str = "TD"
    fields: tuple[str, ...] = ("email",)
    purpose_en: str = "Driving licence renewal"
    purpose_zh: str = "續領駕駛執照"


def _record(port, db, now, **overrides) -> str:
    entry = dict(
        resident_id="resident-a",
        client_id="forms-hub",
        department="FEHD",
        channel="form_submission",
        fields=["attachment:photos", "district"],
        purpose="To follow up your report",
        grant_id=None,
        legal_basis="Application made by the resident (public-toilet-fault-report v1)",
        request_id="req-1",
        now=now,
    )
    entry.update(overrides)
    return port.record_disclosure(db, **entry)


def test_texts_are_shown_with_the_entry_and_never_hashed(db, port, now):
    with_texts = _record(port, db, now, texts=FORM_TEXTS)
    without = _record(port, db, now, request_id="req-2")
    shown = {view.entry_id: view for view in port.list_disclosures(db, "resident-a")}
    view = shown[with_texts]
    assert view.text("purpose", "zh-HK") == "跟進你的舉報"
    assert view.text("legal_basis", "en") == "Application made by the resident"
    assert view.field_label("attachment:photos", "zh-HK") == "故障相片"
    assert view.field_label("district", "zh-HK") is None
    assert shown[without].text("purpose", "zh-HK") is None
    # The entry itself keeps the recorder's own words; the texts are not part of it.
    assert view.legal_basis == "Application made by the resident (public-toilet-fault-report v1)"
    assert tuple(view.entry()) == ENTRY_FIELDS
    port.ledger.integrate(db, now, limit=10)
    leaves = {row.entry_id: bytes(row.leaf_hash) for row in db.scalars(select(LedgerEntry))}
    for view in port.list_disclosures(db, "resident-a"):
        # the leaf is the hash of the entry alone, as the offline verifier recomputes it
        assert tuple(view.entry()) == ENTRY_FIELDS
        assert leaves[view.entry_id] == leaf_hash(canonical_entry_bytes(view.entry()))
        assert view.integrated and (view.text("purpose", "zh-HK") is not None) == (
            view.entry_id == with_texts
        )


def test_a_grant_gives_its_purpose_in_both_languages(db, port, now):
    grant_id = port.record_grant(db, Request(), remember=True, given_via="consent-page", now=now)
    same = _record(port, db, now, grant_id=grant_id, purpose="Driving licence renewal", legal_basis=None)
    other = _record(
        port, db, now, grant_id=grant_id, purpose="Something else", legal_basis=None, request_id="req-2"
    )
    shown = {view.entry_id: view for view in port.list_disclosures(db, "resident-a")}
    assert shown[same].text("purpose", "zh-HK") == "續領駕駛執照"
    assert shown[other].text("purpose", "zh-HK") is None  # the grant was for another purpose


def test_a_rolled_back_release_leaves_no_texts(db, port, now):
    savepoint = db.begin_nested()
    _record(port, db, now, texts=FORM_TEXTS)
    savepoint.rollback()
    assert db.scalar(select(func.count()).select_from(EntryTexts)) == 0
    _record(port, db, now, texts={"purpose": {"fr": "x"}, "fields": "not a mapping"})
    assert db.scalar(select(func.count()).select_from(EntryTexts)) == 0  # nothing worth keeping


def test_clean_keeps_known_parts_and_languages_only():
    assert clean(None) == {}
    assert clean(
        {
            "purpose": {"en": "Why", "zh-HK": " ", "fr": "Pourquoi"},
            "other": {"en": "x"},
            "fields": {"name": {"zh-HK": "姓名"}, 3: {"en": "x"}, "empty": {}},
        }
    ) == {"purpose": {"en": "Why"}, "fields": {"name": {"zh-HK": "姓名"}}}
    assert len(clean({"purpose": {"en": "x" * 5000}})["purpose"]["en"]) == 1000
