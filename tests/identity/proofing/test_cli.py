"""`egate registration ...` on a fresh SQLite installation: the same service, the same rules,
the acting officer named by user name."""

from __future__ import annotations

import io
import re
from datetime import date

import pytest

from egate.cli import main
from identity.accounts import service as accounts
from identity.accounts.schemas import Enrolment
from identity.db import unit_of_work
from identity.proofing import service as proofing
from identity.proofing.evidence import EvidenceStore
from identity.residents.hkid import format_hkid
from kit.runtime import Runtime
from kit.settings import load_settings
from tests.identity.accounts.factories import PASSWORD, hasher_of, keyring_of, random_email, random_hkid
from tests.identity.proofing.factories import card_image


@pytest.fixture
def installation(tmp_path, monkeypatch):
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EGATE_MASTER_KEY", "ZWdhdGUtdGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=")
    monkeypatch.setenv("EGATE_ARGON2_MEMORY_KIB", "8192")
    assert main(["db", "upgrade"]) == 0
    for username, role in (("reg.one", "registrar"), ("td.officer", "officer")):
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        created = ["staff", "create", "--username", username, "--name", "LAU Ka Ming", "--department", "REG"]
        assert main([*created, "--role", role, "--password-stdin"]) == 0
    return Runtime.build(load_settings())


def self_enrolled(runtime: Runtime) -> tuple[str, str]:
    """A resident enrolled online; returns (account id, formatted number)."""
    hkid = random_hkid()
    enrolment = Enrolment(
        hkid=hkid,
        name="CHAN Tai Mun",
        name_zh=None,
        birthdate=date(1990, 7, 31),
        gender="male",
        address="1 Harbour Road",
        phone="+85291234567",
        email=random_email(),
        password=PASSWORD,
    )
    with unit_of_work(runtime.sessions) as db:
        account = accounts.enrol_resident(
            db, keyring_of(runtime), hasher_of(runtime), enrolment, None, now=runtime.clock()
        )
        return account.id, format_hkid(hkid)


def test_lookup_proof_in_person_and_the_officer_must_be_a_registrar(installation, capsys):
    account_id, hkid = self_enrolled(installation)
    assert main(["registration", "lookup", "--officer", "td.officer", "--hkid", hkid]) == 2
    assert "not an active staff account with the registrar role" in capsys.readouterr().err
    assert main(["registration", "lookup", "--officer", "reg.one", "--hkid", hkid]) == 0
    out = capsys.readouterr().out
    assert f"account {account_id}" in out and "level:    self_asserted" in out

    with unit_of_work(installation.sessions) as db:
        account = accounts.repository.get(db, account_id)
        code, _ = proofing.issue_counter_code(db, keyring_of(installation), account, installation.clock())
    proof = ["registration", "proof", "--officer", "reg.one", "--hkid", hkid]
    assert main([*proof, "--counter-code", "00000000"]) == 2
    assert "counter code is not correct" in capsys.readouterr().err
    assert main([*proof, "--counter-code", code, "--name", "CHAN Tai Man"]) == 0
    assert "is now in_person" in capsys.readouterr().out
    with unit_of_work(installation.sessions) as db:
        account = accounts.repository.get(db, account_id)
        assert accounts.load_profile(keyring_of(installation), account).name == "CHAN Tai Man"
        assert [e.tag for e in accounts.activity(db, account_id)][0] == "identity.proofed"


def test_queue_approve_and_reject_remote_requests(installation, capsys):
    requests = []
    for _ in range(2):
        account_id, _hkid = self_enrolled(installation)
        with unit_of_work(installation.sessions) as db:
            account = accounts.repository.get(db, account_id)
            store = EvidenceStore.build(installation.settings.data_dir, installation.master_key)
            row = proofing.request_remote(
                db, store, account, card_image(), "image/png", None, installation.clock()
            )
            requests.append((row.id, account_id))
    assert main(["registration", "queue", "--officer", "reg.one"]) == 0
    listed = capsys.readouterr().out
    assert all(request_id in listed for request_id, _ in requests)
    (first, _), (second, _) = requests
    assert main(["registration", "proof", "--officer", "reg.one", "--request", first]) == 0
    assert "is now remote" in capsys.readouterr().out
    assert main(["registration", "reject", "--officer", "reg.one", "--request", second, "--reason", " "]) == 2
    reject = ["registration", "reject", "--officer", "reg.one", "--request", second]
    assert main([*reject, "--reason", "Blurred image"]) == 0
    assert "refused; the resident will be told" in capsys.readouterr().out
    assert main(["registration", "queue", "--officer", "reg.one"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["registration", "proof", "--officer", "reg.one", "--request", second]) == 2


def test_enrol_in_person_and_the_holder_wins(installation, capsys):
    claimant_id, hkid = self_enrolled(installation)
    enrol = [
        "registration", "enrol", "--officer", "reg.one", "--hkid", hkid, "--name", "CHAN Tai Man",
        "--birthdate", "1990-07-31", "--gender", "male", "--phone", "98765432",
    ]  # fmt: skip
    assert main(enrol) == 2
    assert "--suspend-claimant" in capsys.readouterr().err
    assert main([*enrol, "--suspend-claimant"]) == 0
    out = capsys.readouterr().out
    assert f"suspended account {claimant_id}" in out
    code = re.search(r"activation code \(shown once\): (\d{8})", out).group(1)
    with unit_of_work(installation.sessions) as db:
        assert accounts.repository.get(db, claimant_id).status == "suspended"
        holder = accounts.find_by_identifier(db, keyring_of(installation), hkid)
        assert holder.identity_level == "in_person" and not accounts.has_usable_password(holder)
        activated = accounts.activate_account(
            db, keyring_of(installation), hasher_of(installation), hkid, code, PASSWORD, PASSWORD, None,
            installation.clock(),
        )  # fmt: skip
        assert activated.id == holder.id
