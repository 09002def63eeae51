import logging

from sqlalchemy import func, select

from identity.accounts.models import Account, AccountEvent
from identity.residents.hkid import normalise_hkid
from tests.identity.accounts.factories import Browser, create_resident, enrolment_form, outbox_messages


def _accounts(db) -> int:
    return db.scalar(select(func.count()).select_from(Account))


def test_enrolment_stores_personal_data_only_encrypted_and_signs_in(browser, db, runtime):
    form = enrolment_form(hkid="a 123456 (3)")
    page = browser.get("/enrol")
    assert page.status_code == 200
    response = browser.post("/enrol", form, follow_redirects=False)

    assert response.status_code == 303
    assert response.headers["location"].startswith("/account/verify/email")
    cookie = response.headers["set-cookie"]
    assert (
        "egate_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    )
    account = db.scalars(select(Account)).one()
    row_text = " ".join(str(value) for value in account.__dict__.values())
    for secret in ("A1234563", "A123456", form["email"], "91234567", "CHAN Tai Man", "Harbour"):
        assert secret not in row_text
    home = browser.get("/account")
    assert "A123***(*)" in home.text and "A123456(3)" not in home.text
    assert form["email"] in home.text
    assert [m.channel for m in outbox_messages(db, runtime)] == ["email", "sms"]
    tags = db.scalars(select(AccountEvent.tag)).all()
    assert "account.enrolled" in tags


def test_duplicate_identity_card_number_is_refused_without_revealing_the_account(browser, db, runtime):
    first = enrolment_form()
    browser.post("/enrol", first, follow_redirects=False)
    other = Browser(runtime)
    spelled_differently = normalise_hkid(first["hkid"]).lower()
    second = enrolment_form(hkid=spelled_differently, name="LEE Siu Ming")
    response = other.post("/enrol", second)

    assert response.status_code == 400
    assert "This identity card number cannot be enrolled" in response.text
    assert first["email"] not in response.text
    assert 'value="CHAN' not in response.text
    assert 'id="hkid-error"' in response.text and 'aria-invalid="true"' in response.text
    assert _accounts(db) == 1
    assert "egate_session" not in response.headers.get("set-cookie", "")


def test_every_invalid_field_gets_its_message_next_to_it_and_nothing_is_saved(browser, db):
    form = enrolment_form(
        hkid="A123456(4)",
        name="",
        name_zh="Peter",
        birthdate="2030-01-01",
        gender="",
        address="",
        phone="12",
        email="not-an-email",
        password="password",
        password_confirm="x",
    )
    response = browser.post("/enrol", form)
    assert response.status_code == 400
    for field, text in [
        ("hkid", "check the digit in brackets"),
        ("name", "Enter your name in English"),
        ("name_zh", "Chinese characters"),
        ("birthdate", "in the past"),
        ("gender", "Choose your gender"),
        ("address", "Enter your residential address"),
        ("phone", "Enter a mobile number like"),
        ("email", "Enter an email address like"),
        ("password", "too common"),
    ]:
        assert f'id="{field}-error"' in response.text, field
        assert text in response.text, field
    assert _accounts(db) == 0
    # Values typed are kept (except passwords), so the person only fixes what is wrong.
    assert 'value="not-an-email"' in response.text
    assert 'value="password"' not in response.text


def test_errors_are_in_the_page_language(browser, db):
    response = browser.post("/enrol?lang=zh-HK", enrolment_form(hkid="A123456(4)"))
    assert response.status_code == 400
    assert "此身份證號碼無效" in response.text
    assert '<html lang="zh-Hant-HK">' in response.text


def test_too_young_and_mismatched_passwords(browser, db, runtime):
    response = browser.post(
        "/enrol", enrolment_form(birthdate="2020-01-01", password_confirm="other words here")
    )
    assert "You must be 11 or older" in response.text
    assert "The two passwords do not match" in response.text
    assert _accounts(db) == 0


def test_duplicate_email_is_refused(browser, db, runtime):
    first = enrolment_form()
    browser.post("/enrol", first, follow_redirects=False)
    other = Browser(runtime)
    response = other.post("/enrol", enrolment_form(email=first["email"].upper()))
    assert response.status_code == 400
    assert "This email address cannot be used" in response.text
    assert _accounts(db) == 1


def test_identity_card_number_never_reaches_logs_or_urls(browser, caplog):
    caplog.set_level(logging.DEBUG)
    form = enrolment_form()
    response = browser.post("/enrol", form, follow_redirects=False)
    signed_out = browser.post("/signout", follow_redirects=False)
    signin = browser.sign_in(form["hkid"])
    for item in (response, signed_out, signin):
        assert "hkid" not in item.headers.get("location", "").lower()
        assert normalise_hkid(form["hkid"]) not in item.headers.get("location", "")
    logged = " ".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    assert normalise_hkid(form["hkid"]) not in logged and form["hkid"] not in logged
    assert form["password"] not in logged


def test_probing_for_enrolled_numbers_is_throttled(browser, db, runtime, clock):
    _account, taken = create_resident(db, runtime)
    prober = Browser(runtime)
    for _ in range(3):
        prober.post("/enrol", enrolment_form(hkid=taken["hkid"]))
    paused = prober.post("/enrol", enrolment_form())
    assert paused.status_code == 429 and "You can try again after" in paused.text
    clock.advance(seconds=11)
    assert prober.post("/enrol", enrolment_form(), follow_redirects=False).status_code == 303
