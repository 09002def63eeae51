import io
import json

import pytest
from sqlalchemy import select

from identity import claims as names
from identity.accounts import claims as claims_module
from identity.accounts import repository as accounts_repository
from identity.accounts import service as accounts
from identity.accounts.claims import UnknownAccount, account_kind_and_roles, resident_claims
from identity.accounts.demo import seed_demo_resident
from identity.accounts.models import Account
from identity.accounts.schemas import FormErrors
from identity.messaging.delivery import deliver_pending
from identity.messaging.models import OutboxMessage
from identity.security.keyring import build_keyring
from identity.security.totp import generate_recovery_codes
from kit.outbox import FileDelivery
from tests.identity.accounts.factories import PASSWORD, create_resident, hasher_of, keyring_of


def create_staff(db, runtime, **fields):
    return accounts.create_staff(db, keyring_of(runtime), hasher_of(runtime), now=runtime.clock(), **fields)


def test_resident_claims_cover_every_claim_the_account_has(db, runtime):
    account, form = create_resident(db, runtime)
    claims = resident_claims(db, keyring_of(runtime), account.id)
    assert claims == {
        "name": "CHAN Tai Man",
        "name#zh-HK": "陳大文",
        "birthdate": "1990-07-31",
        "gender": "male",
        "email": form["email"],
        "email_verified": False,
        "phone_number": "+85291234567",
        "phone_number_verified": False,
        "address": {"formatted": form["address"], "country": "HK"},
        "hkid_number": form["hkid"],
    }
    assert set(claims) <= set(names.ALL_RESIDENT_CLAIMS)
    assert account_kind_and_roles(db, account.id) == ("resident", None, [])


def test_the_hkid_number_is_decrypted_only_when_it_is_to_be_released(db, runtime, monkeypatch):
    account, form = create_resident(db, runtime)
    sealed = accounts_repository.sealed_claims(db, account.id)
    opened: list[str] = []
    real_hkid = claims_module.account_hkid

    def counted(keyring, sealed_account):
        opened.append(sealed_account.id)
        return real_hkid(keyring, sealed_account)

    monkeypatch.setattr(claims_module, "account_hkid", counted)
    without = claims_module.claims_of(keyring_of(runtime), sealed, [names.NAME, names.BIRTHDATE])
    assert names.HKID not in without and without[names.NAME] == "CHAN Tai Man"
    assert opened == []
    with_hkid = claims_module.claims_of(keyring_of(runtime), sealed, [names.NAME, names.HKID])
    assert with_hkid[names.HKID] == form["hkid"]
    assert opened == [account.id]


def test_chinese_name_is_omitted_when_there_is_none(db, runtime):
    account, _form = create_resident(db, runtime, name_zh="")
    assert names.NAME_ZH not in resident_claims(db, keyring_of(runtime), account.id)
    with pytest.raises(UnknownAccount):
        resident_claims(db, keyring_of(runtime), "missing")


def test_staff_accounts_carry_department_and_roles(db, runtime):
    staff = create_staff(
        db,
        runtime,
        username="auditor.lam",
        password=PASSWORD,
        department="AUD",
        roles=["auditor", "officer"],
        name="LAM Wing",
    )
    assert account_kind_and_roles(db, staff.id) == ("staff", "AUD", ["auditor", "officer"])
    assert resident_claims(db, keyring_of(runtime), staff.id) == {"name": "LAM Wing"}
    with pytest.raises(FormErrors) as refused:
        create_staff(
            db,
            runtime,
            username="auditor.lam",
            password=PASSWORD,
            department="AUD",
            roles=["auditor"],
            name="X",
        )
    assert refused.value.errors == {"username": "username.taken"}
    with pytest.raises(FormErrors) as bad:
        create_staff(db, runtime, username="x", password="short", department="", roles=["king"], name="X")
    assert set(bad.value.errors) == {"username", "roles", "department", "password"}


def test_demo_resident_is_seeded_once_and_can_sign_in(db, runtime, browser):
    identifier, password = seed_demo_resident(db, runtime.settings, runtime.master_key, runtime.clock())
    assert seed_demo_resident(db, runtime.settings, runtime.master_key, runtime.clock()) == (
        identifier,
        password,
    )
    assert identifier == "A123456(3)"
    assert len(db.scalars(select(Account)).all()) == 1
    db.flush()
    assert browser.sign_in(identifier, password).status_code == 303


def test_field_key_rotation_re_encrypts_under_the_new_generation(db, runtime):
    account, form = create_resident(db, runtime)
    accounts.begin_totp_setup(keyring_of(runtime), account)
    accounts.issue_code(db, keyring_of(runtime), account, "email", runtime.clock())
    db.flush()
    assert account.profile_encrypted.split(".")[1] == "f1"
    runtime.settings.field_key_generation = 2
    try:
        assert (
            accounts.load_profile(keyring_of(runtime), account).email == form["email"]
        )  # old key still reads
        changed = accounts.rotate_field_encryption(db, keyring_of(runtime))
        assert changed >= 2
        for token in (account.profile_encrypted, account.hkid_encrypted, account.totp_secret_encrypted):
            assert token.split(".")[1] == "f2"
        assert db.scalars(select(OutboxMessage)).first().body_encrypted.split(".")[1] == "f2"
        assert accounts.formatted_hkid(keyring_of(runtime), account) == form["hkid"]
        assert accounts.rotate_field_encryption(db, keyring_of(runtime)) == 0  # idempotent
    finally:
        runtime.settings.field_key_generation = 1


def test_recovery_code_digests_are_keyed():
    code = generate_recovery_codes(1)[0]
    one = build_keyring(b"1" * 32)
    two = build_keyring(b"2" * 32)
    assert one.hash_recovery_code(code) != two.hash_recovery_code(code)
    assert one.match_recovery_code(code.upper().replace("-", " "), [one.hash_recovery_code(code)])
    assert one.match_recovery_code("not-a-code", [one.hash_recovery_code(code)]) is None


def test_outbox_is_delivered_after_commit_to_files(db, runtime, tmp_path):
    account, _form = create_resident(db, runtime)
    accounts.issue_code(db, keyring_of(runtime), account, "email", runtime.clock())
    db.commit()
    delivery = FileDelivery(tmp_path / "mail")
    assert deliver_pending(runtime.sessions, keyring_of(runtime), delivery, runtime.clock) == 1
    [written] = list((tmp_path / "mail").iterdir())
    payload = json.loads(written.read_text())
    assert payload["channel"] == "email" and "verification code is" in payload["body"]
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    assert deliver_pending(runtime.sessions, keyring_of(runtime), delivery, runtime.clock) == 0


def test_staff_create_command(tmp_path, monkeypatch, capsys):
    from egate.cli import main
    from kit import migrations
    from kit.runtime import Runtime
    from tests.support.databases import TEST_SETTINGS

    for name, value in TEST_SETTINGS.items():
        monkeypatch.setenv(f"EGATE_{name.upper()}", str(value))
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    from kit.settings import load_settings

    migrations.upgrade(Runtime.build(load_settings()).engine)
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    code = main(
        [
            "staff",
            "create",
            "--username",
            "officer.chan",
            "--name",
            "CHAN Siu",
            "--department",
            "TD",
            "--role",
            "officer",
            "--role",
            "admin",
            "--password-stdin",
        ]
    )
    assert code == 0
    assert "created staff account officer.chan (admin, officer, TD)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert (
        main(
            [
                "staff",
                "create",
                "--username",
                "officer.chan",
                "--name",
                "X",
                "--department",
                "TD",
                "--role",
                "officer",
                "--password-stdin",
            ]
        )
        == 2
    )
    assert "at least 8 characters" in capsys.readouterr().err
    assert main(["field-keys", "rotate"]) == 0
