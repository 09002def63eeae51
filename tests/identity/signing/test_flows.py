"""Signature requests on SQLite and PostgreSQL: nothing is signed without the device's
approval, the result is a CMS (or a PAdES PDF) that openssl and pyHanko verify, and each
request and its outcome is a ledger entry that names the document's hash, never its content."""

from __future__ import annotations

import hashlib
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from asn1crypto import cms
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from consent.ledger.models import LedgerEntry
from consent.port import LedgerConsentPort
from identity.accounts.models import AccountEvent
from identity.clients.service import Registration, register
from identity.signing import authority, flows, service
from identity.signing.cades import as_asn1
from identity.signing.service import SigningRefused
from identity.tokens import repository as tokens_repository
from tests.identity.accounts.factories import keyring_of
from tests.identity.signing.factories import (
    b64url,
    bind_phone,
    csr_claim,
    openssl,
    proofed_resident,
    signing_of,
    tiny_pdf,
)

DOCUMENT = b"Application for a food business licence, reference FB-2026-0042\n"
SUMMARY_EN = "Food business licence application FB-2026-0042"
SUMMARY_ZH = "食物業牌照申請 FB-2026-0042"


@pytest.fixture
def setting(db, runtime, clock):
    """A CA, a department client, and a resident proofed in person whose phone holds a certificate."""
    authority.initialise(db, runtime.master_key, clock.now, issuer=runtime.settings.issuer)
    client, _ = register(
        db,
        runtime.master_key,
        Registration(
            name="Food licensing",
            department="FEHD",
            redirect_uris=["https://fehd.example.gov.hk/cb"],
            allowed_scopes=("openid", "signing"),
        ),
        clock.now,
    )
    resident = proofed_resident(db, runtime, clock.now)
    phone = bind_phone(db, runtime, resident, clock.now)
    signing = signing_of(runtime)
    der = phone.signing_request()
    signed = phone.signed(db, "certificate.request", clock.now, csr_sha256=csr_claim(der))
    issued = service.issue_for_device(
        db, signing.store, signing.seal, keyring_of(runtime), signing.endpoints, clock.now, signed, der, None
    )
    tokens_repository.remember_subject(db, client.sector_identifier, "sub-of-the-resident", resident.id)
    return client, resident, phone, issued


def ask(db, runtime, clock, client, *, kind="cms", pdf=None, login_hint="sub-of-the-resident"):
    new = flows.NewRequest(
        login_hint=login_hint,
        kind=kind,
        summary_en=SUMMARY_EN,
        summary_zh=SUMMARY_ZH,
        document_sha256=hashlib.sha256(DOCUMENT).hexdigest() if kind == "cms" else None,
        pdf=pdf,
    )
    return flows.create(db, signing_of(runtime).seal, LedgerConsentPort(), clock.now, client, new)


def open_request(db, runtime, clock, phone, request_id):
    signed = phone.signed(db, "signature.view", clock.now, rid=request_id)
    signing = signing_of(runtime)
    return flows.open_for_device(db, signing.store, signing.seal, clock.now, signed)


def approve(db, runtime, clock, phone, request, signature=None, tbs=None):
    tbs = request.to_be_signed if tbs is None else tbs
    signed = phone.signed(
        db, "signature.approve", clock.now, rid=request.id, tbs_sha256=b64url(hashlib.sha256(tbs).digest())
    )
    signing = signing_of(runtime)
    return flows.decide(
        db,
        signing.store,
        signing.seal,
        LedgerConsentPort(),
        clock.now,
        signed,
        approve=True,
        signature=phone.sign(request.to_be_signed) if signature is None else signature,
        meta=None,
    )


def validated(embedded, context):
    """pyHanko's validation (it runs its own event loop) off this thread, which may be running
    Playwright's loop when the browser tests ran first."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(validate_pdf_signature, embedded, signer_validation_context=context).result()


def poll(db, runtime, clock, client, request_id):
    return flows.poll(db, signing_of(runtime).seal, LedgerConsentPort(), clock.now, client, request_id)


def ledger(db, account_id):
    """The resident's ledger entries, once the sequencer has integrated what was queued."""
    db.flush()
    LedgerConsentPort().ledger.integrate(db, datetime.now(UTC), limit=1000, sign=False)
    return db.scalars(
        select(LedgerEntry).where(LedgerEntry.resident_id == account_id).order_by(LedgerEntry.index)
    ).all()


def test_a_hash_is_signed_only_after_the_device_approves_and_openssl_verifies_it(
    db, runtime, clock, setting, tmp_path
):
    client, resident, phone, issued = setting
    request = ask(db, runtime, clock, client)
    assert poll(db, runtime, clock, client, request.id).result is None
    listed = flows.pending_for(db, clock.now, phone.device)
    assert [r.id for r in listed] == [request.id]
    described = flows.describe(signing_of(runtime).seal, listed[0])
    assert (described["summary_en"], described["summary_zh"]) == (SUMMARY_EN, SUMMARY_ZH)

    opened = open_request(db, runtime, clock, phone, request.id)
    attributes = cms.CMSAttributes.load(opened.to_be_signed)
    names = {a["type"].native for a in attributes}
    assert names == {"content_type", "message_digest", "signing_certificate_v2", "signing_time"}
    digest = next(a for a in attributes if a["type"].native == "message_digest")["values"][0].native
    assert digest == hashlib.sha256(DOCUMENT).digest()

    # A signature by another key, or an approval naming other bytes, signs nothing.
    with pytest.raises(SigningRefused) as forged:
        approve(db, runtime, clock, phone, opened, signature=b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert forged.value.code == "invalid_signature"
    with pytest.raises(SigningRefused, match="other than what is to be signed"):
        approve(db, runtime, clock, phone, opened, tbs=b"something else")
    assert opened.status == flows.PENDING and opened.result_sealed is None

    approve(db, runtime, clock, phone, opened)
    outcome = poll(db, runtime, clock, client, request.id)
    assert outcome.request.status == flows.APPROVED
    signature = cms.ContentInfo.load(outcome.result)
    signer = signature["content"]["signer_infos"][0]
    assert signer["unsigned_attrs"][0]["type"].native == "signature_time_stamp_token"

    (tmp_path / "doc").write_bytes(DOCUMENT)
    (tmp_path / "sig.p7s").write_bytes(outcome.result)
    (tmp_path / "ca.pem").write_bytes(signing_of(runtime).store.current(db).published_pem())
    verify = ("cms", "-verify", "-binary", "-inform", "DER", "-in", tmp_path / "sig.p7s")
    ok = openssl(*verify, "-content", tmp_path / "doc", "-CAfile", tmp_path / "ca.pem", "-out", "/dev/null")
    assert ok.returncode == 0, ok.stderr
    assert b"Verification successful" in ok.stderr
    (tmp_path / "doc").write_bytes(DOCUMENT.replace(b"0042", b"0043"))
    tampered = openssl(
        *verify, "-content", tmp_path / "doc", "-CAfile", tmp_path / "ca.pem", "-out", "/dev/null"
    )
    assert tampered.returncode != 0

    entries = ledger(db, resident.id)
    assert [(e.channel, e.basis, e.purpose.split(":")[0]) for e in entries] == [
        ("signature", "legal", "Signature requested"),
        ("signature", "consent", "Signature approved"),
    ]
    assert entries[1].fields == ["name", "signature"] and entries[1].grant_id
    for entry in entries:
        assert entry.recipient_department == "FEHD"
        assert hashlib.sha256(DOCUMENT).hexdigest() in entry.purpose
        assert "licence" not in entry.purpose.lower() and SUMMARY_ZH not in entry.purpose
    tags = db.scalars(select(AccountEvent.tag).where(AccountEvent.account_id == resident.id)).all()
    assert "signing.approved" in tags


def test_declining_signs_nothing_and_is_recorded(db, runtime, clock, setting):
    client, resident, phone, _ = setting
    request = ask(db, runtime, clock, client)
    signing = signing_of(runtime)
    signed = phone.signed(db, "signature.decline", clock.now, rid=request.id)
    flows.decide(
        db,
        signing.store,
        signing.seal,
        LedgerConsentPort(),
        clock.now,
        signed,
        approve=False,
        signature=None,
        meta=None,
    )
    outcome = poll(db, runtime, clock, client, request.id)
    assert outcome.request.status == flows.DECLINED and outcome.result is None
    with pytest.raises(SigningRefused) as again:
        open_request(db, runtime, clock, phone, request.id)
    assert again.value.code == "already_decided"
    assert [e.purpose.split(":")[0] for e in ledger(db, resident.id)] == [
        "Signature requested",
        "Signature declined",
    ]


def test_an_approval_needs_the_device_that_opened_it_and_a_live_certificate(db, runtime, clock, setting):
    client, resident, phone, issued = setting
    request = ask(db, runtime, clock, client)
    with pytest.raises(SigningRefused) as unopened:
        approve(db, runtime, clock, phone, request, signature=b"", tbs=b"")
    assert unopened.value.code == "not_opened"

    stranger = proofed_resident(db, runtime, clock.now)
    other_phone = bind_phone(db, runtime, stranger, clock.now)
    with pytest.raises(SigningRefused) as foreign:
        open_request(db, runtime, clock, other_phone, request.id)
    assert foreign.value.code == "not_found"

    opened = open_request(db, runtime, clock, phone, request.id)
    service.revoke_on_request(db, clock.now, account_id=resident.id, serial=issued.row.serial, meta=None)
    with pytest.raises(SigningRefused) as revoked:
        approve(db, runtime, clock, phone, opened)
    assert revoked.value.code == "certificate_revoked"
    assert poll(db, runtime, clock, client, request.id).result is None


def test_requests_expire_and_are_refused_for_unknown_residents_or_other_clients(db, runtime, clock, setting):
    client, resident, phone, _ = setting
    with pytest.raises(SigningRefused) as unknown:
        ask(db, runtime, clock, client, login_hint="nobody")
    assert unknown.value.code == "unknown_user"
    with pytest.raises(SigningRefused, match="64 hex digits"):
        flows.create(
            db,
            signing_of(runtime).seal,
            LedgerConsentPort(),
            clock.now,
            client,
            flows.NewRequest("sub-of-the-resident", "cms", SUMMARY_EN, SUMMARY_ZH, document_sha256="abc"),
        )
    other, _ = register(
        db,
        runtime.master_key,
        Registration(name="Other", department="OTHER", redirect_uris=["https://o.example/cb"]),
        clock.now,
    )
    request = ask(db, runtime, clock, client)
    with pytest.raises(SigningRefused) as not_theirs:
        poll(db, runtime, clock, other, request.id)
    assert not_theirs.value.code == "not_found"

    clock.advance(seconds=flows.DEFAULT_TTL + 1)
    assert poll(db, runtime, clock, client, request.id).request.status == flows.EXPIRED
    with pytest.raises(SigningRefused):
        open_request(db, runtime, clock, phone, request.id)
    assert ledger(db, resident.id)[-1].purpose.startswith("Signature expired")


def test_a_pdf_gets_a_pades_signature_that_pyhanko_validates(db, runtime, clock, setting):
    client, resident, phone, issued = setting
    pdf = tiny_pdf("Licence FB-2026-0042")
    request = ask(db, runtime, clock, client, kind="pdf", pdf=pdf)
    assert request.document_sha256 == hashlib.sha256(pdf).hexdigest()
    opened = open_request(db, runtime, clock, phone, request.id)
    names = {a["type"].native for a in cms.CMSAttributes.load(opened.to_be_signed)}
    assert "signing_time" not in names  # PAdES: the time is in the signature dictionary
    approve(db, runtime, clock, phone, opened)
    signed_pdf = poll(db, runtime, clock, client, request.id).result
    assert signed_pdf.startswith(pdf)  # an incremental update: the original bytes are kept

    authorities = signing_of(runtime).store.current(db)
    context = ValidationContext(
        trust_roots=[as_asn1(authorities.ca.certificate)], allow_fetching=False, revocation_mode="soft-fail"
    )
    embedded = PdfFileReader(io.BytesIO(signed_pdf)).embedded_signatures[0]
    status = validated(embedded, context)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted
    assert status.signing_cert.subject.native["common_name"] == "CHAN Tai Man"

    tampered = bytearray(signed_pdf)
    tampered[pdf.index(b"Licence")] ^= 0x01
    embedded = PdfFileReader(io.BytesIO(bytes(tampered))).embedded_signatures[0]
    assert not validated(embedded, context).intact
