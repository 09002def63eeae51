"""LedgerConsentPort has the provider's ConsentPort shape, and a disclosure it records
belongs to the caller's transaction."""

from __future__ import annotations

import ast
import inspect
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from starlette.testclient import TestClient

from consent.ledger.integrity import LedgerInconsistent
from consent.ledger.models import LedgerEntry, LedgerFrontier
from consent.ledger.service import InvalidDisclosure
from consent.port import GrantCoverage, LedgerConsentPort, answer_ledger_refusals
from kit.failures import as_problem

PORT_METHODS = ("find_covering_grant", "record_grant", "grant_is_valid", "record_disclosure")


def test_the_port_has_the_providers_method_signatures():
    from identity.consent_port import ConsentPort

    for name in PORT_METHODS:
        theirs = inspect.signature(getattr(ConsentPort, name))
        ours = inspect.signature(getattr(LedgerConsentPort, name))
        assert list(ours.parameters) == list(theirs.parameters), name
        assert [p.kind for p in ours.parameters.values()] == [p.kind for p in theirs.parameters.values()]
    assert set(GrantCoverage.__dataclass_fields__) == {"grant_id", "missing_fields"}


def test_consent_imports_neither_identity_nor_forms_hub():
    package = Path(__file__).resolve().parents[2] / "consent"
    for source in package.rglob("*.py"):
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in ("identity", "forms_hub"), f"{source}: imports {name}"


def _record(port, db, now, **overrides) -> str:
    fields = dict(
        resident_id="resident-a",
        client_id="td-licensing",
        department="TD",
        channel="userinfo",
        fields=["sub", "email"],
        purpose="Driving licence renewal",
        grant_id="cg-1",
        legal_basis=None,
        request_id="req-1",
        now=now,
    )
    fields.update(overrides)
    return port.record_disclosure(db, **fields)


def test_record_disclosure_appends_an_entry_and_returns_its_id(db, port, now):
    entry_id = _record(port, db, now)
    [view] = port.list_disclosures(db, "resident-a")
    assert view.entry_id == entry_id
    assert (view.channel, view.fields, view.basis, view.grant_id) == (
        "userinfo",
        ("email", "sub"),
        "consent",
        "cg-1",
    )
    # Shown at once, pending; the sequencer gives it its place in the tree.
    assert (view.index, view.integrated, view.recorded_at) == (None, False, now)
    assert db.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    assert port.ledger.integrate(db, now, limit=10).count == 1
    [view] = port.list_disclosures(db, "resident-a")
    assert (view.entry_id, view.index, view.integrated, view.recorded_at) == (entry_id, 0, True, now)


def test_a_rolled_back_release_leaves_no_entry(db, port, now):
    _record(port, db, now)
    savepoint = db.begin_nested()
    _record(port, db, now, request_id="req-2")
    savepoint.rollback()
    assert len(port.list_disclosures(db, "resident-a")) == 1
    port.ledger.integrate(db, now, limit=10)
    assert db.scalar(select(func.count()).select_from(LedgerEntry)) == 1
    # Nothing of it is left to integrate: the next entry takes index 1, not 2.
    _record(port, db, now, request_id="req-3")
    assert port.ledger.integrate(db, now, limit=10).count == 1
    assert sorted(v.index for v in port.list_disclosures(db, "resident-a")) == [0, 1]


def test_an_unrecordable_release_raises(db, port, now):
    with pytest.raises(InvalidDisclosure):
        _record(port, db, now, fields=[])


def test_list_disclosures_filters_by_department_and_time(db, port, now):
    _record(port, db, now, department="TD")
    _record(port, db, now + timedelta(days=1), department="IRD", client_id="ird-etax")
    _record(port, db, now + timedelta(days=2), department="TD")
    _record(port, db, now, resident_id="resident-b")
    views = port.list_disclosures(db, "resident-a")
    assert [v.recorded_at for v in views] == [now + timedelta(days=d) for d in (2, 1, 0)]
    assert [v.recipient_department for v in port.list_disclosures(db, "resident-a", department="IRD")] == [
        "IRD"
    ]
    window = port.list_disclosures(
        db, "resident-a", since=now + timedelta(hours=1), until=now + timedelta(days=2)
    )
    assert [v.recipient_department for v in window] == ["IRD"]
    assert len(port.list_disclosures(db, "resident-a", limit=2)) == 2


def test_a_port_without_runtime_still_records(db, now):
    port = LedgerConsentPort()
    _record(port, db, now)
    assert port.ledger.latest_checkpoint(db) is None


def test_a_release_refused_by_an_inconsistent_ledger_is_a_503_in_the_callers_format(db, port, now):
    """What the composition root installs on the services recording through the port."""
    record = dict(
        resident_id="resident-a",
        client_id="td-licensing",
        department="TD",
        channel="userinfo",
        fields=["sub"],
        purpose="Licence",
        grant_id=None,
        legal_basis=None,
        request_id="req-1",
        now=now,
    )
    port.record_disclosure(db, **record)
    port.ledger.integrate(db, now, limit=10)
    db.execute(update(LedgerFrontier).values(tree_size=0, hashes=b""))  # entry 0 now lies past the end
    port.record_disclosure(db, **record)
    with pytest.raises(LedgerInconsistent):  # the sequencer finds out
        port.ledger.integrate(db, now, limit=10)
    service = FastAPI()
    service.state.answer_failure = as_problem
    answer_ledger_refusals(service)

    @service.get("/userinfo")
    def userinfo() -> dict[str, str]:
        port.record_disclosure(db, **record)
        return {"sub": "resident-a"}

    response = TestClient(service).get("/userinfo")
    assert response.status_code == 503  # was: IntegrityError, a 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert "integrity check" in response.json()["detail"]
