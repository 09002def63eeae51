"""The proofing service on SQLite and PostgreSQL: levels only rise, remote requests are
approved or refused, counter codes work once and briefly, every officer action is audited."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from identity.accounts import service as accounts
from identity.accounts.models import AccountEvent
from identity.accounts.schemas import FormErrors
from identity.assurance import IAL_IN_PERSON, IAL_REMOTE, IAL_SELF_ASSERTED
from identity.proofing import service as proofing
from identity.proofing.evidence import EvidenceDamaged
from identity.proofing.verified import current_verification
from tests.identity.accounts.factories import create_resident, keyring_of, outbox_messages
from tests.identity.proofing.factories import (
    card_image,
    checked,
    create_officer,
    create_registrar,
    tags,
)


def test_a_level_only_rises(db, runtime):
    account, _form = create_resident(db, runtime)
    assert account.identity_level == IAL_SELF_ASSERTED
    assert proofing.raise_level(account, IAL_IN_PERSON) is True
    assert proofing.raise_level(account, IAL_REMOTE) is False
    assert proofing.raise_level(account, IAL_SELF_ASSERTED) is False
    assert account.identity_level == IAL_IN_PERSON


def test_remote_request_approved_with_corrected_values(db, runtime, store, clock):
    keyring = keyring_of(runtime)
    account, form = create_resident(db, runtime, name="CHAN Tai Mun")
    officer = create_registrar(db, runtime)
    request = proofing.request_remote(db, store, account, card_image("JPEG"), "image/png", None, clock.now)
    assert (request.status, request.level, request.check_method) == ("pending", IAL_REMOTE, "vri")
    assert request.evidence_content_type == "image/jpeg"  # the bytes decide, not the browser
    assert current_verification(db, keyring, account.id) is None
    with pytest.raises(FormErrors) as twice:
        proofing.request_remote(db, store, account, card_image(), "image/png", None, clock.now)
    assert twice.value.errors == {"evidence": "evidence.pending"}
    assert [row.id for row, _ in proofing.queue(db, officer)] == [request.id]

    clock.advance(hours=1)
    values = checked(form, name="CHAN Tai Man")  # the card says Man, the resident typed Mun
    proofing.approve_request(db, keyring, officer, request.id, values, None, clock.now)
    db.flush()
    assert account.identity_level == IAL_REMOTE
    assert accounts.load_profile(keyring, account).name == "CHAN Tai Man"
    verification = current_verification(db, keyring, account.id)
    assert verification is not None and verification.level == IAL_REMOTE
    assert verification.check_method == "vri" and verification.verified_at == clock.now
    assert verification.claims == {
        "name": "CHAN Tai Man",
        "name#zh-HK": form["name_zh"],
        "birthdate": form["birthdate"],
        "gender": form["gender"],
        "hkid_number": form["hkid"],
    }
    assert "identity.proofed" in tags(db, account.id)
    assert tags(db, officer.id)[-1] == "registration.proofed"
    event = db.scalars(select(AccountEvent).where(AccountEvent.tag == "identity.proofed")).one()
    assert event.details["corrected"] == ["name"]
    assert proofing.queue(db, officer) == []
    with pytest.raises(FormErrors) as again:
        proofing.approve_request(db, keyring, officer, request.id, values, None, clock.now)
    assert again.value.errors == {"request": "proofing.not_pending"}
    assert any("verified your identity" in message.body for message in outbox_messages(db, runtime))


def test_remote_request_refused_with_a_reason_the_resident_is_told_of(db, runtime, store, clock):
    keyring = keyring_of(runtime)
    account, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    request = proofing.request_remote(db, store, account, card_image(), "image/png", None, clock.now)
    with pytest.raises(FormErrors) as empty:
        proofing.reject_request(db, keyring, officer, request.id, "  ", None, clock.now)
    assert empty.value.errors == {"reason": "reason.required"}
    proofing.reject_request(db, keyring, officer, request.id, "The image is blurred.", None, clock.now)
    assert (request.status, request.reason, request.officer_id) == (
        "rejected",
        "The image is blurred.",
        officer.id,
    )
    assert account.identity_level == IAL_SELF_ASSERTED
    assert "identity.proofing_rejected" in tags(db, account.id)
    assert tags(db, officer.id)[-1] == "registration.rejected"
    notice = outbox_messages(db, runtime)[-1]
    assert notice.recipient == form["email"] and "could not verify" in notice.body
    assert "blurred" not in notice.body  # the reason is read on the page, not in a message
    # The resident can try again.
    again = proofing.request_remote(db, store, account, card_image(), "image/png", None, clock.now)
    assert again.status == "pending"


def test_a_number_that_is_not_the_accounts_is_refused(db, runtime, store, clock):
    keyring = keyring_of(runtime)
    account, form = create_resident(db, runtime)
    other, other_form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    request = proofing.request_remote(db, store, account, card_image(), "image/png", None, clock.now)
    with pytest.raises(FormErrors) as refused:
        proofing.approve_request(db, keyring, officer, request.id, checked(other_form), None, clock.now)
    assert refused.value.errors == {"hkid": "proofing.hkid_mismatch"}
    assert request.status == "pending" and account.identity_level == IAL_SELF_ASSERTED


def test_in_person_with_the_counter_code_once_and_within_ten_minutes(db, runtime, clock):
    keyring = keyring_of(runtime)
    account, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    values = checked(form)

    code, expires = proofing.issue_counter_code(db, keyring, account, clock.now)
    assert len(code) == 8 and (expires - clock.now).total_seconds() == 600
    clock.advance(minutes=11)
    with pytest.raises(FormErrors) as late:
        proofing.proof_in_person(db, keyring, officer, account, code, values, None, clock.now)
    assert late.value.errors == {"counter_code": "counter_code.wrong"}

    code, _ = proofing.issue_counter_code(db, keyring, account, clock.now)
    for _ in range(5):
        with pytest.raises(FormErrors):
            proofing.proof_in_person(db, keyring, officer, account, "00000000", values, None, clock.now)
    with pytest.raises(FormErrors):  # five wrong tries end the code
        proofing.proof_in_person(db, keyring, officer, account, code, values, None, clock.now)

    code, _ = proofing.issue_counter_code(db, keyring, account, clock.now)
    proofing.proof_in_person(
        db, keyring, officer, account, f" {code[:4]} {code[4:]} ", values, None, clock.now
    )
    assert account.identity_level == IAL_IN_PERSON
    verification = current_verification(db, keyring, account.id)
    assert verification is not None and (verification.level, verification.check_method) == (
        IAL_IN_PERSON,
        "vpip",
    )
    with pytest.raises(FormErrors) as used:  # single use
        proofing.proof_in_person(db, keyring, officer, account, code, values, None, clock.now)
    assert used.value.errors == {"counter_code": "counter_code.wrong"}


def test_in_person_proofing_overtakes_a_waiting_remote_request(db, runtime, store, clock):
    keyring = keyring_of(runtime)
    account, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    request = proofing.request_remote(db, store, account, card_image(), "image/png", None, clock.now)
    code, _ = proofing.issue_counter_code(db, keyring, account, clock.now)
    proofing.proof_in_person(db, keyring, officer, account, code, checked(form), None, clock.now)
    assert request.status == "withdrawn"
    with pytest.raises(FormErrors) as proofed:
        proofing.request_remote(db, store, account, card_image(), "image/png", None, clock.now)
    assert proofed.value.errors == {"evidence": "evidence.not_needed"}


def test_only_registrars_act_and_every_lookup_is_recorded(db, runtime, clock):
    keyring = keyring_of(runtime)
    account, form = create_resident(db, runtime)
    department_officer = create_officer(db, runtime)
    with pytest.raises(proofing.NotRegistrar):
        proofing.lookup(db, keyring, department_officer, form["hkid"], None, clock.now)
    with pytest.raises(proofing.NotRegistrar):
        proofing.queue(db, department_officer)
    officer = create_registrar(db, runtime)
    assert proofing.lookup(db, keyring, officer, form["hkid"], None, clock.now).id == account.id
    assert proofing.lookup(db, keyring, officer, "A123456(3)", None, clock.now) is None
    with pytest.raises(FormErrors):
        proofing.lookup(db, keyring, officer, "A123456(4)", None, clock.now)
    db.flush()
    lookups = db.scalars(
        select(AccountEvent).where(
            AccountEvent.account_id == officer.id, AccountEvent.tag == "registration.lookup"
        )
    ).all()
    assert [event.details for event in lookups] == [{"account": account.id}, {"account": None}]
    officer.status = "suspended"
    with pytest.raises(proofing.NotRegistrar):
        proofing.queue(db, officer)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "evidence.required"),
        (b"%PDF-1.7 not an image", "evidence.not_image"),
        (card_image()[:200], "evidence.not_image"),
        (card_image() + b"<script>alert(1)</script>", "evidence.not_image"),
        (card_image(size=(100, 80)), "evidence.too_small"),
        (card_image("GIF"), "evidence.not_image"),
    ],
)
def test_evidence_must_be_a_clean_jpeg_or_png(db, runtime, store, clock, data, code):
    account, _form = create_resident(db, runtime)
    with pytest.raises(FormErrors) as refused:
        proofing.request_remote(db, store, account, data, "image/png", None, clock.now)
    assert refused.value.errors == {"evidence": code}
    assert proofing.pending_request(db, account.id) is None


def test_an_image_declaring_too_many_pixels_is_refused_before_decoding(db, runtime, store, clock):
    account, _form = create_resident(db, runtime)
    buffer = io.BytesIO()
    Image.new("1", (6000, 5000)).save(buffer, format="PNG")  # 30 megapixels, a few kB
    with pytest.raises(FormErrors) as refused:
        proofing.request_remote(db, store, account, buffer.getvalue(), "image/png", None, clock.now)
    assert refused.value.errors == {"evidence": "evidence.too_many_pixels"}


def test_evidence_is_sealed_at_rest_and_checked_when_read(db, runtime, store, clock):
    account, _form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    image = card_image()
    request = proofing.request_remote(db, store, account, image, "image/png", None, clock.now)
    on_disk = (store.root / request.evidence_path).read_bytes()
    assert image not in on_disk and image[:64] not in on_disk
    assert proofing.evidence_of(db, store, officer, request.id, None, clock.now) == (image, "image/png")
    assert tags(db, officer.id)[-1] == "registration.evidence_viewed"
    request.evidence_sha256 = "0" * 64  # another file swapped in
    with pytest.raises(EvidenceDamaged):
        proofing.evidence_of(db, store, officer, request.id, None, clock.now)
