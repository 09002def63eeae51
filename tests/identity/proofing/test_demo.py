"""The demo identities: one resident proofed in person, one self-asserted, one registration
officer with a TOTP second factor; seeding twice changes nothing."""

from __future__ import annotations

import pyotp
from sqlalchemy import func, select

from identity.accounts import repository as accounts_repository
from identity.accounts import service as accounts
from identity.accounts.demo import DEMO_HKID, REGISTRAR_USERNAME, SELF_ASSERTED_HKID
from identity.claims import REGISTRAR
from identity.proofing.demo import seed_demo_identities
from identity.proofing.models import IdentityProofing
from identity.proofing.verified import current_verification
from tests.identity.accounts.factories import Browser, keyring_of, outbox_messages


def test_demo_identities_are_seeded_once_and_can_sign_in(db, runtime):
    keyring = keyring_of(runtime)
    first = seed_demo_identities(db, runtime.settings, runtime.master_key, runtime.clock())
    assert seed_demo_identities(db, runtime.settings, runtime.master_key, runtime.clock()) == first
    resident = accounts_repository.by_hkid_index(db, keyring.hkid_digest(DEMO_HKID))
    assert resident.identity_level == "in_person"
    assert db.scalar(select(func.count()).select_from(IdentityProofing)) == 1
    verification = current_verification(db, keyring, resident.id)
    assert verification.check_method == "vpip" and verification.claims["name#zh-HK"] == "陳大文"
    unproofed = accounts_repository.by_hkid_index(db, keyring.hkid_digest(SELF_ASSERTED_HKID))
    assert unproofed.identity_level == "self_asserted"
    assert current_verification(db, keyring, unproofed.id) is None
    officer = accounts_repository.by_username(db, first.registrar[0])
    assert REGISTRAR in officer.roles
    assert outbox_messages(db, runtime) == []  # the demo sends nobody anything
    db.commit()
    for identifier, password in (first.resident, first.self_asserted):
        assert Browser(runtime).sign_in(identifier, password, "/account").headers["location"] == "/account"
    assert len({first.resident[1], first.self_asserted[1], first.registrar[1]}) == 3


def test_the_demo_registrar_signs_in_with_the_printed_totp_secret(db, runtime):
    demo = seed_demo_identities(db, runtime.settings, runtime.master_key, runtime.clock())
    officer = accounts_repository.by_username(db, demo.registrar[0])
    assert accounts.has_totp(officer) and len(demo.registrar_totp_secret) == 32
    assert accounts.totp_secret(keyring_of(runtime), officer) == demo.registrar_totp_secret
    db.commit()
    staff = Browser(runtime)
    asked = staff.sign_in(demo.registrar[0], demo.registrar[1], "/staff/registration")
    assert asked.headers["location"] == "/signin/second-factor"
    staff.get("/signin/second-factor")
    code = pyotp.TOTP(demo.registrar_totp_secret).now()  # what the printed command shows
    done = staff.post("/signin/second-factor", {"code": code}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/staff/registration"
    assert staff.get("/staff/registration").status_code == 200


def test_a_demo_registrar_seeded_before_second_factors_gets_one_on_the_next_run(db, runtime):
    seed_demo_identities(db, runtime.settings, runtime.master_key, runtime.clock())
    officer = accounts_repository.by_username(db, REGISTRAR_USERNAME)
    officer.totp_secret_encrypted = officer.totp_confirmed_at = None  # as an older demo left it
    db.flush()
    again = seed_demo_identities(db, runtime.settings, runtime.master_key, runtime.clock())
    assert accounts.has_totp(officer)
    assert accounts.totp_secret(keyring_of(runtime), officer) == again.registrar_totp_secret
