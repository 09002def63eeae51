"""`egate ledger`: export from the database, verify offline with only the file and the
key, sign on demand; a tampered export fails with the line that is wrong."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from sqlalchemy import delete

from consent.ledger.models import LedgerEntry
from consent.port import LedgerConsentPort
from egate.cli import main
from kit import migrations
from kit.db import session_scope
from kit.runtime import Runtime
from kit.settings import load_settings
from tests.support.databases import TEST_SETTINGS


@pytest.fixture
def data_dir(tmp_path, monkeypatch, now):
    """A migrated SQLite gateway with 12 disclosures, configured through EGATE_* as in production."""
    monkeypatch.setenv("EGATE_DATA_DIR", str(tmp_path))
    for name, value in TEST_SETTINGS.items():
        monkeypatch.setenv(f"EGATE_{name.upper()}", str(value))
    runtime = Runtime.build(load_settings())
    migrations.upgrade(runtime.engine)
    port = LedgerConsentPort(runtime)
    for i in range(12):
        if i == 1:
            # The sequencer's first batch (entry 0) signs a checkpoint at size 1.
            assert main(["ledger", "sequence"]) == 0
        with contextmanager(session_scope)(runtime.sessions) as db:
            port.record_disclosure(
                db,
                resident_id=f"resident-{i % 3}",
                client_id="td-licensing",
                department="TD",
                channel="userinfo",
                fields=["sub", "email"],
                purpose="Driving licence renewal",
                grant_id=f"cg-{i}",
                legal_basis=None,
                request_id=f"req-{i}",
                now=now,
            )
    with contextmanager(session_scope)(runtime.sessions) as db:
        # The other 11 integrated without a checkpoint: the latest stays at size 1.
        assert port.ledger.integrate(db, now, limit=100, sign=False).count == 11
    runtime.engine.dispose()
    return tmp_path


def test_export_then_verify_offline_then_tamper(data_dir, capsys):
    assert main(["ledger", "public-key"]) == 0
    vkey = capsys.readouterr().out.strip()
    (data_dir / "ledger.vkey").write_text(vkey + "\n")
    export = data_dir / "ledger.jsonl"
    assert main(["ledger", "export", "--output", str(export)]) == 0
    lines = export.read_text().splitlines()
    assert json.loads(lines[-1])["type"] == "checkpoint"

    # Offline: nothing but the file and the key (here from a file, then inline).
    (data_dir / "egate.sqlite3").rename(data_dir / "moved-away.sqlite3")
    assert main(["ledger", "verify", str(export), "--public-key", str(data_dir / "ledger.vkey")]) == 0
    assert "OK: 12 entries" in capsys.readouterr().out
    assert main(["ledger", "verify", str(export), "--public-key", vkey]) == 0

    entry = json.loads(lines[5])
    entry["channel"] = "id_token"
    lines[5] = json.dumps(entry)
    export.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["ledger", "verify", str(export), "--public-key", vkey]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_verify_with_another_key_fails(data_dir, capsys):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from consent.ledger.checkpoint import public_key_to_vkey

    export = data_dir / "ledger.jsonl"
    assert main(["ledger", "export", "-o", str(export)]) == 0
    stranger = public_key_to_vkey("testserver/consent/ledger", Ed25519PrivateKey.generate().public_key())
    assert main(["ledger", "verify", str(export), "--public-key", stranger]) == 1
    assert main(["ledger", "verify", str(export), "--public-key", "not-a-vkey"]) == 2


def test_checkpoint_on_demand_and_export_without_one(data_dir, capsys):
    export = data_dir / "ledger.jsonl"
    # The port signed at the first append only (12 quick appends): no new checkpoint asked.
    assert main(["ledger", "export", "-o", str(export), "--no-checkpoint"]) == 0
    assert len(export.read_text().splitlines()) == 2
    assert main(["ledger", "export", "-o", str(export), "--no-checkpoint", "--include-uncovered"]) == 0
    capsys.readouterr()
    assert main(["ledger", "public-key"]) == 0
    vkey = capsys.readouterr().out.strip()
    assert main(["ledger", "verify", str(export), "--public-key", vkey]) == 1
    assert main(["ledger", "verify", str(export), "--public-key", vkey, "--allow-uncovered-tail"]) == 0
    capsys.readouterr()
    assert main(["ledger", "checkpoint"]) == 0
    note = capsys.readouterr().out
    assert note.splitlines()[1] == "12"


def _delete_entry(index: int) -> None:
    runtime = Runtime.build(load_settings())
    with contextmanager(session_scope)(runtime.sessions) as db:
        db.execute(delete(LedgerEntry).where(LedgerEntry.index == index))
    runtime.engine.dispose()


@pytest.mark.parametrize(
    "options",
    [[], ["--no-checkpoint", "--include-uncovered"]],
    ids=["signing-first", "uncovered"],
)
def test_export_of_a_damaged_ledger_fails_in_one_line_and_leaves_no_file(data_dir, capsys, options):
    _delete_entry(5)
    capsys.readouterr()
    export = data_dir / "ledger.jsonl"
    assert main(["ledger", "export", "-o", str(export), *options]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("egate: ledger export failed: ")
    assert "entry 5 is missing" in err or "1 of the entries below 12 are missing" in err
    assert not export.exists() and not (data_dir / "ledger.jsonl.partial").exists()


def test_a_damaged_ledger_is_not_signed_on_demand(data_dir, capsys):
    _delete_entry(5)
    capsys.readouterr()
    assert main(["ledger", "checkpoint"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "egate: ledger checkpoint refused: entry 5 is missing\n"


def test_verify_with_a_trusted_checkpoint_catches_truncation(data_dir, capsys):
    assert main(["ledger", "public-key"]) == 0
    vkey = capsys.readouterr().out.strip()
    export = data_dir / "ledger.jsonl"
    assert main(["ledger", "export", "-o", str(export)]) == 0  # signs at size 12
    lines = export.read_text().splitlines()
    trusted = data_dir / "checkpoint.note"
    trusted.write_text(json.loads(lines[-1])["note"])
    # Cut back to the checkpoint signed at the first append: valid on its own.
    export.write_text("\n".join(lines[:2]) + "\n")
    assert main(["ledger", "verify", str(export), "--public-key", vkey]) == 0
    capsys.readouterr()
    assert (
        main(["ledger", "verify", str(export), "--public-key", vkey, "--trusted-checkpoint", str(trusted)])
        == 1
    )
    out = capsys.readouterr().out
    assert "FAILED: line 3: the export ends after 1 entries, but the trusted checkpoint commits to 12" in out

    export.write_text("\n".join(lines) + "\n")
    assert (
        main(["ledger", "verify", str(export), "--public-key", vkey, "--trusted-checkpoint", str(trusted)])
        == 0
    )
    assert "consistent with the trusted checkpoint of size 12" in capsys.readouterr().out

    trusted.write_text("not a checkpoint\n")
    assert (
        main(["ledger", "verify", str(export), "--public-key", vkey, "--trusted-checkpoint", str(trusted)])
        == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("egate ledger: bad trusted checkpoint: ") and err.count("\n") == 1
