"""The resident's identity page and the registration officer's pages, over HTTP (TestClient on
the identity app), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pyotp
from starlette.testclient import TestClient

from egate.app import create_app as create_gateway
from identity.assurance import IAL_IN_PERSON, IAL_REMOTE
from identity.proofing.evidence import MAX_UPLOAD_BYTES
from tests.identity.accounts.factories import (
    PASSWORD,
    Browser,
    create_resident,
    enrolment_form,
    outbox_messages,
)
from tests.identity.proofing.factories import (
    card_image,
    create_officer,
    create_registrar,
    registrar_signed_in,
    tags,
    turn_on_totp,
)

CARD_FIELDS = ("hkid", "name", "name_zh", "birthdate", "gender")


def signed_in(runtime, identifier: str) -> Browser:
    browser = Browser(runtime)
    assert browser.sign_in(identifier).status_code == 303
    return browser


def card(form: dict[str, str], **overrides: str) -> dict[str, str]:
    return {**{name: form[name] for name in CARD_FIELDS}, **overrides}


def upload(browser: Browser, data: bytes, name: str = "card.png", media_type: str = "image/png"):
    return browser.post(
        "/account/identity/evidence", files={"evidence": (name, data, media_type)}, follow_redirects=False
    )


def test_remote_request_approved_by_an_officer_through_the_pages(db, runtime):
    account, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    resident = signed_in(runtime, form["email"])
    home = resident.get("/account")
    assert "Your identity has not been checked" in home.text and 'href="/account/identity"' in home.text
    page = resident.get("/account/identity")
    assert "Self-asserted: not checked" in page.text and 'enctype="multipart/form-data"' in page.text

    refused = upload(resident, b"not an image at all", "card.txt", "text/plain")
    assert refused.status_code == 400 and 'id="evidence-error"' in refused.text
    assert "The file is not a JPEG or PNG image" in refused.text
    sent = upload(resident, card_image())
    assert sent.status_code == 303 and sent.headers["location"].endswith("notice=notice.proofing_requested")
    assert 'id="pending-request"' in resident.get("/account/identity").text

    staff = registrar_signed_in(runtime, officer)
    queue = staff.get("/staff/registration/queue")
    assert queue.status_code == 200 and form["name"] in queue.text
    request_path = re.search(r'href="(/staff/registration/requests/[0-9a-f]+)"', queue.text).group(1)
    request_page = staff.get(request_path)
    assert f'src="{request_path}/evidence"' in request_page.text
    image = staff.get(f"{request_path}/evidence")
    assert image.status_code == 200 and image.content == card_image()
    assert image.headers["content-type"] == "image/png" and image.headers["cache-control"] == "no-store"
    assert image.headers["x-content-type-options"] == "nosniff"
    assert resident.get(f"{request_path}/evidence").status_code == 403  # only registrars see it

    wrong = staff.post(f"{request_path}/approve", card(form, birthdate="1990-13-01"))
    assert wrong.status_code == 400 and 'id="birthdate-error"' in wrong.text
    approved = staff.post(f"{request_path}/approve", card(form, name="CHAN Tai Man"), follow_redirects=False)
    assert approved.status_code == 303
    assert "The request has been approved." in staff.get(approved.headers["location"]).text
    db.refresh(account)
    assert account.identity_level == IAL_REMOTE
    page = resident.get("/account/identity")
    assert 'id="identity-level">Checked remotely<' in page.text
    assert "Image of the identity card checked by a registration officer" in page.text


def test_a_refusal_is_shown_to_the_resident_with_its_reason(db, runtime):
    _account, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    resident = signed_in(runtime, form["email"])
    upload(resident, card_image("JPEG"), "card.jpg", "image/jpeg")
    staff = registrar_signed_in(runtime, officer)
    request_path = re.search(
        r'href="(/staff/registration/requests/[0-9a-f]+)"', staff.get("/staff/registration/queue").text
    ).group(1)
    empty = staff.post(f"{request_path}/reject", {"reason": ""})
    assert empty.status_code == 400 and "Enter the reason the resident will see." in empty.text
    done = staff.post(f"{request_path}/reject", {"reason": "The photo is too dark to read."})
    assert "The request has been refused" in done.text
    page = resident.get("/account/identity")
    assert "Not approved" in page.text and "The photo is too dark to read." in page.text
    assert 'action="/account/identity/evidence"' in page.text  # may try again


def test_in_person_proofing_with_the_counter_code(db, runtime):
    account, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    resident = signed_in(runtime, form["email"])
    shown = resident.post("/account/identity/counter-code")
    code = re.search(r'id="counter-code"[^>]*>(\d{4} \d{4})<', shown.text).group(1)

    staff = registrar_signed_in(runtime, officer)
    unknown = staff.post("/staff/registration/lookup", {"hkid": "not a number"})
    assert unknown.status_code == 400 and 'id="hkid-error"' in unknown.text
    found = staff.post("/staff/registration/lookup", {"hkid": form["hkid"]}, follow_redirects=False)
    account_path = f"/staff/registration/accounts/{account.id}"
    assert found.status_code == 303 and found.headers["location"] == account_path
    page = staff.get(account_path)
    assert form["hkid"] in page.text and "Self-asserted: not checked" in page.text
    wrong = staff.post(f"{account_path}/proof", {**card(form), "counter_code": "1234 5678"})
    assert wrong.status_code == 400 and "The counter code is not correct" in wrong.text
    done = staff.post(f"{account_path}/proof", {**card(form), "counter_code": code}, follow_redirects=False)
    assert done.status_code == 303
    assert "now checked in person" in staff.get(done.headers["location"]).text
    db.refresh(account)
    assert account.identity_level == IAL_IN_PERSON
    page = resident.get("/account/identity")
    assert 'id="identity-level">Checked in person<' in page.text and "Get a counter code" not in page.text


def test_enrolment_at_the_counter_then_activation(db, runtime):
    officer = create_registrar(db, runtime)
    staff = registrar_signed_in(runtime, officer)
    form = enrolment_form(email="counter.enrolled@example.hk")
    none = staff.post("/staff/registration/lookup", {"hkid": form["hkid"]})
    assert "No account holds this number." in none.text and f'value="{form["hkid"]}"' in none.text
    missing = staff.post("/staff/registration/enrol", card(form))
    assert missing.status_code == 400 and "Enter a mobile phone number or an email address" in missing.text
    done = staff.post("/staff/registration/enrol", {**card(form), "email": form["email"]})
    assert done.status_code == 200 and "Resident enrolled" in done.text
    shown = re.search(r'id="activation-code"[^>]*>(\d{4} \d{4})<', done.text).group(1)
    sent = [m for m in outbox_messages(db, runtime) if m.recipient == form["email"]]
    assert shown.replace(" ", "") in sent[-1].body  # sent to the resident too
    again = staff.post("/staff/registration/enrol", {**card(form), "email": "other@example.hk"})
    assert again.status_code == 400 and "already checked" in again.text  # the holder is proofed now

    resident = Browser(runtime)
    resident.get("/activate")
    activated = resident.post(
        "/activate",
        {"hkid": form["hkid"], "code": shown, "new_password": PASSWORD, "new_password_confirm": PASSWORD},
        follow_redirects=False,
    )
    assert (
        activated.status_code == 303 and activated.headers["location"] == "/account?notice=notice.activated"
    )
    home = resident.get(activated.headers["location"])
    assert "Your account is activated" in home.text and "checked in person" in home.text
    assert signed_in(runtime, form["email"])  # the new password works


def test_the_claimed_number_needs_the_officers_confirmation(db, runtime):
    claimant, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime)
    staff = registrar_signed_in(runtime, officer)
    staff.get("/staff/registration/enrol")
    claimed = staff.post("/staff/registration/enrol", {**card(form), "phone": "9876 5432"})
    assert (
        claimed.status_code == 400
        and 'id="claimed"' in claimed.text
        and 'name="suspend_claimant"' in claimed.text
    )
    done = staff.post(
        "/staff/registration/enrol", {**card(form), "phone": "9876 5432", "suspend_claimant": "yes"}
    )
    assert done.status_code == 200 and 'id="claimant-suspended"' in done.text
    db.refresh(claimant)
    assert claimant.status == "suspended"


def test_registration_pages_are_for_registrars_only(db, runtime):
    _account, form = create_resident(db, runtime)
    visitor = Browser(runtime)
    redirect = visitor.get("/staff/registration/queue", follow_redirects=False)
    assert (
        redirect.status_code == 303
        and redirect.headers["location"] == "/signin?next=/staff/registration/queue"
    )
    resident = signed_in(runtime, form["email"])
    officer = create_officer(db, runtime)
    turn_on_totp(db, runtime, officer)  # a second factor does not make an officer a registrar
    department = registrar_signed_in(runtime, officer)
    for browser in (resident, department):
        for path in ("/staff/registration", "/staff/registration/queue", "/staff/registration/enrol"):
            refused = browser.get(path)
            assert refused.status_code == 403 and "for registration officers only" in refused.text
        posted = browser.post("/staff/registration/lookup", {"hkid": form["hkid"]})
        assert posted.status_code == 403
    missing = registrar_signed_in(runtime, create_registrar(db, runtime)).get(
        "/staff/registration/accounts/nope"
    )
    assert missing.status_code == 404


def test_pages_in_traditional_chinese(db, runtime):
    _account, form = create_resident(db, runtime)
    resident = signed_in(runtime, form["email"])
    page = resident.get("/account/identity?lang=zh-HK")
    assert (
        "<h1>你的身份</h1>" in page.text and "自行申報：未經核實" in page.text and "取得櫃位代碼" in page.text
    )
    staff = registrar_signed_in(runtime, create_registrar(db, runtime))
    home = staff.get("/staff/registration?lang=zh-HK")
    assert "<h1>登記</h1>" in home.text and "查找居民" in home.text
    refused = resident.get("/staff/registration?lang=zh-HK")
    assert refused.status_code == 403 and "此頁面只供登記主任使用。" in refused.text


def test_a_taken_number_at_enrol_says_where_to_go_without_saying_whose(db, runtime):
    _account, form = create_resident(db, runtime, name="WONG Ka Yan")
    visitor = Browser(runtime)
    visitor.get("/enrol")
    taken = visitor.post("/enrol", enrolment_form(hkid=form["hkid"]))
    assert taken.status_code == 400
    assert "bring it to a registration counter" in taken.text and "WONG Ka Yan" not in taken.text


def test_the_gateway_takes_a_file_only_at_the_evidence_upload_and_only_so_large(db, runtime):
    _account, form = create_resident(db, runtime)
    resident = Browser(runtime)
    resident.client = TestClient(
        create_gateway(runtime), base_url="http://testserver", client=("testclient", 50000)
    )
    assert resident.sign_in(form["email"]).status_code == 303
    elsewhere = resident.post(
        "/account/profile",
        files={"evidence": ("card.png", card_image(), "image/png")},
        follow_redirects=False,
    )
    assert elsewhere.status_code == 415
    too_large = upload(resident, b"\x89PNG" + b"\0" * (MAX_UPLOAD_BYTES + 64 * 1024))
    assert too_large.status_code == 413
    assert upload(resident, card_image()).status_code == 303


STEP_UP = "/signin?acr=urn:egate:acr:mfa&next="


def test_a_registrar_without_a_second_factor_is_told_to_set_one_up_in_both_languages(db, runtime):
    resident, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime, second_factor=False)
    staff = signed_in(runtime, officer.username)  # a password alone
    for path in ("/staff/registration", f"/staff/registration/accounts/{resident.id}"):
        page = staff.get(path, follow_redirects=False)
        assert page.status_code == 403
        assert "<h1>Registration needs two-step verification</h1>" in page.text
        assert 'id="set-up-totp"' in page.text and 'href="/account/security/totp"' in page.text
        assert 'id="try-again">' in page.text and f'href="{path}"' in page.text
    looked_up = staff.post("/staff/registration/lookup", {"hkid": form["hkid"]}, follow_redirects=False)
    assert looked_up.status_code == 403
    assert not [tag for tag in tags(db, officer.id) if tag.startswith("registration.")]  # nothing done
    chinese = staff.get("/staff/registration/queue?lang=zh-HK")
    assert chinese.status_code == 403 and "<h1>登記工作需要雙重認證</h1>" in chinese.text
    assert "以驗證器應用程式啟用雙重認證" in chinese.text and "你的帳戶尚未設定" in chinese.text
    # No loop: a step-up this account cannot make goes straight back, and the page explains.
    again = staff.get(STEP_UP + "/staff/registration", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/staff/registration"


def test_a_registrar_signed_in_with_a_password_only_gives_the_code_and_comes_back(db, runtime, clock):
    officer = create_registrar(db, runtime, second_factor=False)
    staff = signed_in(runtime, officer.username)
    assert staff.get("/staff/registration").status_code == 403
    # The registrar turns on TOTP on the account's own page (this session stays at a password).
    setup = staff.get("/account/security/totp")
    secret = re.search(r'id="manual-key"[^>]*>([A-Z2-7 ]+)<', setup.text).group(1).replace(" ", "")
    confirmed = staff.post("/account/security/totp", {"code": pyotp.TOTP(secret).at(clock.now)})
    assert confirmed.status_code == 200
    clock.advance(seconds=30)  # the set-up spent the current code

    page = "/staff/registration/queue?lang=en"
    sent = staff.get(page, follow_redirects=False)
    assert (
        sent.status_code == 303
        and sent.headers["location"] == STEP_UP + "/staff/registration/queue%3Flang%3Den"
    )
    asked = staff.get(sent.headers["location"], follow_redirects=False)
    assert asked.status_code == 303 and asked.headers["location"] == "/signin/second-factor"
    step_up = staff.get("/signin/second-factor")
    assert 'name="code"' in step_up.text and 'name="password"' not in step_up.text
    wrong = staff.post("/signin/second-factor", {"code": "000000"})
    assert wrong.status_code == 400
    done = staff.post(
        "/signin/second-factor", {"code": pyotp.TOTP(secret).at(clock.now)}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == page
    queue = staff.get(page)
    assert queue.status_code == 200 and "<h1>Remote requests</h1>" in queue.text
    assert staff.get(STEP_UP + "/staff/registration", follow_redirects=False).headers["location"] == (
        "/staff/registration"
    )  # already there: no second step-up


def test_a_form_posted_below_the_second_factor_is_not_acted_on(db, runtime):
    _account, form = create_resident(db, runtime)
    officer = create_registrar(db, runtime, second_factor=False)
    staff = signed_in(runtime, officer.username)
    staff.get("/account")
    turn_on_totp(db, runtime, officer)
    posted = staff.post("/staff/registration/lookup", {"hkid": form["hkid"]}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"] == STEP_UP + "/staff/registration"
    assert "registration.lookup" not in tags(db, officer.id)
