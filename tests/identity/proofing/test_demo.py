"""The demo identities: one resident proofed in person, one self-asserted, one registration
officer; seeding twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from identity.accounts import repository as accounts_repository
from identity.accounts.demo import DEMO_HKID, SELF_ASSERTED_HKID
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
    for identifier, password in (first.resident, first.self_asserted, first.registrar):
        assert Browser(runtime).sign_in(identifier, password).status_code == 303
    assert len({first.resident[1], first.self_asserted[1], first.registrar[1]}) == 3
