"""The ledger API: who may read which entries, exports, checkpoints and proofs that verify,
and the access log every auditor query leaves."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from starlette.testclient import TestClient

from consent.app import create_app
from consent.config import ConsentConfig
from consent.ledger import repository
from consent.ledger.checkpoint import public_key_from_vkey, verify_signed_checkpoint
from consent.ledger.integrity import LEDGER_INCONSISTENT, LedgerInconsistent
from consent.ledger.models import AuditAccess, LedgerEntry, LedgerFrontier, MerkleNode
from consent.ledger.rfc9162 import verify_consistency, verify_inclusion
from consent.ledger.verifier import verify_export
from tests.consent.conftest import (
    auditor_headers,
    bearer,
    department_headers,
    provider_jwks,
    resident_headers,
)


def b64d(text: str) -> bytes:
    return base64.b64decode(text)


@pytest.fixture
def seeded(db, port, now):
    """Six disclosures: resident-a to TD (x2), IRD, and via a form; resident-b to TD and IRD."""
    rows = [
        ("resident-a", "TD", "td-licensing", "id_token", ["sub", "name", "email"], "cg-a1", None, 0),
        ("resident-a", "IRD", "ird-etax", "userinfo", ["sub", "hkid_number"], None, "Cap. 112 s. 51", 1),
        ("resident-b", "TD", "td-licensing", "id_token", ["sub", "email"], "cg-b1", None, 2),
        ("resident-a", "TD", "td-licensing", "form_submission", ["name", "address"], "cg-a2", None, 3),
        ("resident-b", "IRD", "ird-etax", "userinfo", ["sub"], None, None, 4),
        ("resident-a", "HD", "hd-housing", "form_prefill", ["=HYPERLINK(1)", "sub"], "cg-a3", None, 5),
    ]
    for resident, department, client, channel, fields, grant, legal, day in rows:
        if day == 1:
            port.ledger.integrate(db, now, limit=100)  # the sequencer's first batch: checkpoint at size 1
        port.record_disclosure(
            db,
            resident_id=resident,
            client_id=client,
            department=department,
            channel=channel,
            fields=fields,
            purpose="-Purpose of " + department,
            grant_id=grant,
            legal_basis=legal,
            request_id=f"req-{day}",
            now=now + timedelta(days=day),
        )
    port.ledger.integrate(db, now, limit=100, sign=False)  # the other five, no checkpoint
    db.commit()
    return rows


def test_a_resident_sees_only_their_own_entries_newest_first(api, seeded):
    body = api.get("/ledger/me/entries", headers=resident_headers("resident-a")).json()
    assert [e["index"] for e in body["entries"]] == [5, 3, 1, 0]
    assert {e["resident_id"] for e in body["entries"]} == {"resident-a"}
    first = body["entries"][-1]
    assert first["fields"] == ["email", "name", "sub"]
    assert first["recorded_at"].endswith("Z") and first["basis"] == "consent"
    assert api.get("/ledger/me/entries", headers=resident_headers("resident-z")).json()["entries"] == []


def test_a_resident_filters_by_department_and_date_and_pages(api, seeded, now):
    headers = resident_headers("resident-a")
    td = api.get("/ledger/me/entries", params={"department": "TD"}, headers=headers).json()
    assert [e["index"] for e in td["entries"]] == [3, 0]
    since = (now + timedelta(days=1)).isoformat()
    until = (now + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%S.%f")  # no offset: UTC
    window = api.get("/ledger/me/entries", params={"since": since, "until": until}, headers=headers).json()
    assert [e["index"] for e in window["entries"]] == [3, 1]
    page = api.get("/ledger/me/entries", params={"limit": 2}, headers=headers).json()
    assert [e["index"] for e in page["entries"]] == [5, 3] and page["next_before"] == 3
    rest = api.get("/ledger/me/entries", params={"limit": 2, "before": 3}, headers=headers).json()
    assert [e["index"] for e in rest["entries"]] == [1, 0]


def test_a_resident_exports_csv_and_json(api, seeded):
    headers = resident_headers("resident-a")
    response = api.get("/ledger/me/entries/export", params={"format": "csv"}, headers=headers)
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["index"] for r in rows] == ["5", "3", "1", "0"]
    assert rows[-1]["fields"] == "email name sub"
    # Formula-looking cells are neutralised for spreadsheets.
    assert rows[0]["fields"].startswith("'=") and rows[0]["purpose"].startswith("'-")
    exported = api.get("/ledger/me/entries/export", params={"format": "json"}, headers=headers).json()
    assert exported["resident_id"] == "resident-a"
    assert [e["index"] for e in exported["entries"]] == [5, 3, 1, 0]
    only_ird = api.get("/ledger/me/entries/export", params={"department": "IRD"}, headers=headers).json()
    assert [e["index"] for e in only_ird["entries"]] == [1]


def test_a_department_sees_only_entries_it_received_without_resident_ids(api, seeded):
    body = api.get("/ledger/department/entries", headers=department_headers("TD")).json()
    assert [e["index"] for e in body["entries"]] == [3, 2, 0]
    assert all("resident_id" not in e for e in body["entries"])
    assert {e["recipient_department"] for e in body["entries"]} == {"TD"}
    email = api.get("/ledger/department/entries", params={"field": "email"}, headers=department_headers("TD"))
    assert [e["index"] for e in email.json()["entries"]] == [2, 0]
    assert api.get("/ledger/department/entries", headers=department_headers("ImmD")).json()["entries"] == []


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, [5, 4, 3, 2, 1, 0]),
        ({"department": "IRD"}, [4, 1]),
        ({"field": "email"}, [2, 0]),
        ({"field": "sub", "channel": "userinfo"}, [4, 1]),
        ({"channel": "form_submission"}, [3]),
        ({"resident_id": "resident-b"}, [4, 2]),
        ({"client_id": "hd-housing"}, [5]),
        ({"basis": "legal"}, [1]),
        ({"basis": "sign-in"}, [4]),
        ({"field": "%"}, []),
    ],
)
def test_an_auditor_queries_across_residents(api, db, seeded, params, expected):
    response = api.get("/ledger/audit/entries", params=params, headers=auditor_headers())
    assert [e["index"] for e in response.json()["entries"]] == expected
    access = db.scalars(select(AuditAccess).order_by(AuditAccess.id.desc())).first()
    assert (access.subject, access.client_id, access.action) == ("auditor-1", "audit-office", "entries.query")
    assert access.result_count == len(expected)
    assert {k: v for k, v in access.parameters.items() if k in params} == params


def test_an_auditor_filters_by_date(api, seeded, now):
    params = {"since": (now + timedelta(days=2)).isoformat(), "until": (now + timedelta(days=4)).isoformat()}
    body = api.get("/ledger/audit/entries", params=params, headers=auditor_headers()).json()
    assert [e["index"] for e in body["entries"]] == [3, 2]


@pytest.mark.parametrize(
    "path",
    ["/ledger/audit/entries", "/ledger/audit/export", "/ledger/audit/access-log"],
)
def test_audit_endpoints_refuse_residents_and_departments(api, seeded, path):
    for headers in (resident_headers("resident-a"), department_headers("TD")):
        response = api.get(path, headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"


def test_every_auditor_query_is_in_the_access_log(api, seeded):
    headers = auditor_headers()
    api.get("/ledger/audit/entries", params={"department": "TD"}, headers=headers)
    api.post("/ledger/checkpoints", headers=headers)
    api.get("/ledger/checkpoints/latest", headers=headers)
    api.get("/ledger/proofs/inclusion", params={"index": 1}, headers=headers)
    api.get("/ledger/proofs/consistency", params={"old_size": 2}, headers=headers)
    api.get("/ledger/audit/export", headers=headers)
    # Residents' own reads are not auditor queries.
    api.get("/ledger/me/entries", headers=resident_headers("resident-a"))
    log = api.get("/ledger/audit/access-log", headers=headers).json()["accesses"]
    assert [a["action"] for a in log] == [
        "ledger.export",
        "proof.consistency",
        "proof.inclusion",
        "checkpoint.latest",
        "checkpoint.sign",
        "entries.query",
    ]
    assert log[-1]["parameters"]["department"] == "TD"
    assert log[-1]["result_count"] == 3
    assert {a["status"] for a in log} == {200, 201}
    assert all(a["subject"] == "auditor-1" and a["client_id"] == "audit-office" for a in log)
    again = api.get("/ledger/audit/access-log", headers=headers).json()["accesses"]
    assert again[0]["action"] == "access_log.query"


def test_checkpoints_are_signed_on_demand_and_fetched_by_size(api, runtime, seeded):
    auditor = auditor_headers()
    key = api.get("/ledger/public-key").json()
    assert key["algorithm"] == "Ed25519" and key["origin"] == "testserver/consent/ledger"
    verifier = public_key_from_vkey(key["vkey"])
    assert base64.b64decode(key["public_key"]) == b64d(key["vkey"].split("+", 2)[2])[1:]
    signed = api.post("/ledger/checkpoints", headers=auditor)
    assert signed.status_code == 201
    assert signed.json()["tree_size"] == 6
    checkpoint = verify_signed_checkpoint(signed.json()["note"], verifier.public_key, verifier.key_name)
    assert checkpoint.root_hash == b64d(signed.json()["root_hash"])
    latest = api.get("/ledger/checkpoints/latest", headers=resident_headers("resident-a")).json()
    assert latest["note"] == signed.json()["note"]
    assert api.get("/ledger/checkpoints/6", headers=department_headers("TD")).json() == latest
    # The port signed one at the first append (no checkpoint existed yet).
    assert api.get("/ledger/checkpoints/1", headers=auditor).json()["tree_size"] == 1
    missing = api.get("/ledger/checkpoints/4", headers=auditor)
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_only_auditors_and_the_administrator_sign_on_demand(runtime, seeded):
    # The app reads the administrator credential from the settings once, when it is built.
    runtime.settings.admin_token = "the-admin-credential"
    with TestClient(create_app(runtime, config=ConsentConfig(), jwks=provider_jwks())) as api:
        assert api.post("/ledger/checkpoints", headers=resident_headers("resident-a")).status_code == 403
        assert api.post("/ledger/checkpoints", headers=department_headers("TD")).status_code == 403
        assert api.post("/ledger/checkpoints", headers=bearer("wrong-admin-token")).status_code == 401
        response = api.post("/ledger/checkpoints", headers=bearer("the-admin-credential"))
        assert response.status_code == 201


def test_no_checkpoint_yet_is_a_problem(api):
    response = api.get("/ledger/checkpoints/latest", headers=auditor_headers())
    assert response.status_code == 404
    assert response.json()["title"] == "No checkpoint"


def test_inclusion_proofs_verify_against_the_signed_checkpoint(api, seeded):
    key = public_key_from_vkey(api.get("/ledger/public-key").json()["vkey"])
    api.post("/ledger/checkpoints", headers=auditor_headers())
    for index in range(6):
        body = api.get("/ledger/proofs/inclusion", params={"index": index}, headers=auditor_headers()).json()
        signed = verify_signed_checkpoint(body["checkpoint"]["note"], key.public_key, key.key_name)
        assert body["tree_size"] == signed.tree_size == 6
        proof = [b64d(h) for h in body["proof"]]
        assert verify_inclusion(b64d(body["leaf_hash"]), index, 6, proof, signed.root_hash)
    at_size = api.get(
        "/ledger/proofs/inclusion", params={"index": 2, "tree_size": 4}, headers=auditor_headers()
    )
    body = at_size.json()
    assert body["checkpoint"] is None
    assert verify_inclusion(
        b64d(body["leaf_hash"]), 2, 4, [b64d(h) for h in body["proof"]], b64d(body["root_hash"])
    )


def test_residents_and_departments_get_proofs_only_for_entries_they_may_read(api, seeded):
    api.post("/ledger/checkpoints", headers=auditor_headers())
    mine = api.get("/ledger/proofs/inclusion", params={"index": 0}, headers=resident_headers("resident-a"))
    assert mine.status_code == 200
    entry = api.get("/ledger/me/entries", headers=resident_headers("resident-a")).json()["entries"][-1]
    assert mine.json()["leaf_hash"] == entry["leaf_hash"]
    theirs = api.get("/ledger/proofs/inclusion", params={"index": 2}, headers=resident_headers("resident-a"))
    assert theirs.status_code == 404
    received = api.get("/ledger/proofs/inclusion", params={"index": 2}, headers=department_headers("TD"))
    assert received.status_code == 200
    other = api.get("/ledger/proofs/inclusion", params={"index": 1}, headers=department_headers("TD"))
    assert other.status_code == 404


def test_proof_requests_outside_the_log_are_problems(api, seeded):
    auditor = auditor_headers()
    assert api.get("/ledger/proofs/inclusion", params={"index": 99}, headers=auditor).status_code == 404
    uncovered = api.get("/ledger/proofs/inclusion", params={"index": 3}, headers=auditor)
    assert uncovered.status_code == 409  # the latest checkpoint is at size 1
    too_big = api.get("/ledger/proofs/inclusion", params={"index": 3, "tree_size": 60}, headers=auditor)
    assert too_big.status_code == 400 and too_big.json()["title"] == "Outside the log"
    bad = api.get("/ledger/proofs/consistency", params={"old_size": 5, "new_size": 3}, headers=auditor)
    assert bad.status_code == 400
    invalid = api.get("/ledger/proofs/inclusion", params={"index": -1}, headers=auditor)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert invalid.json()["errors"][0]["field"] == "query.index"


def _release(port, db, now, resident: str = "resident-a", request_id: str = "req-pending") -> str:
    return port.record_disclosure(
        db,
        resident_id=resident,
        client_id="td-licensing",
        department="TD",
        channel="userinfo",
        fields=["sub", "email"],
        purpose="Licence",
        grant_id="cg-p",
        legal_basis=None,
        request_id=request_id,
        now=now,
    )


def test_an_entry_awaiting_integration_is_shown_at_once_and_its_proof_follows(api, db, port, seeded, now):
    entry_id = _release(port, db, now + timedelta(days=9))
    db.commit()
    mine = api.get("/ledger/me/entries", headers=resident_headers("resident-a")).json()["entries"]
    assert [(e["entry_id"], e["index"], e["integrated"], e["leaf_hash"]) for e in mine[:1]] == [
        (entry_id, None, False, None)
    ]
    assert [e["index"] for e in mine[1:]] == [5, 3, 1, 0] and all(e["integrated"] for e in mine[1:])
    td = api.get("/ledger/department/entries", headers=department_headers("TD")).json()["entries"]
    assert td[0]["entry_id"] == entry_id and td[0]["integrated"] is False

    for headers in (resident_headers("resident-a"), auditor_headers()):
        pending = api.get("/ledger/proofs/inclusion", params={"entry_id": entry_id}, headers=headers)
        assert pending.status_code == 409, pending.text
        assert pending.headers["content-type"] == "application/problem+json"
        assert pending.headers["retry-after"] == "1"
        assert pending.json()["type"] == "urn:egate:problem:not-yet-integrated"
        assert "awaits its place in the log" in pending.json()["detail"]
    # Another resident learns nothing of it, pending or not.
    other = api.get(
        "/ledger/proofs/inclusion", params={"entry_id": entry_id}, headers=resident_headers("resident-b")
    )
    assert other.status_code == 404
    unknown = api.get("/ledger/proofs/inclusion", params={"entry_id": "dl-none"}, headers=auditor_headers())
    assert unknown.status_code == 404

    batch = port.ledger.integrate(db, now, limit=100)  # the sequencer's next batch, signed
    db.commit()
    assert (batch.first_index, batch.count, batch.checkpoint.tree_size) == (6, 1, 7)
    proof = api.get(
        "/ledger/proofs/inclusion", params={"entry_id": entry_id}, headers=resident_headers("resident-a")
    )
    assert proof.status_code == 200, proof.text
    body = proof.json()
    assert (body["leaf_index"], body["tree_size"]) == (6, 7)
    path = [b64d(h) for h in body["proof"]]
    assert verify_inclusion(b64d(body["leaf_hash"]), 6, 7, path, b64d(body["checkpoint"]["root_hash"]))
    [first] = api.get(
        "/ledger/me/entries", params={"limit": 1}, headers=resident_headers("resident-a")
    ).json()["entries"]
    assert (first["entry_id"], first["index"], first["integrated"]) == (entry_id, 6, True)


def test_an_inclusion_proof_names_exactly_one_entry(api, seeded):
    auditor = auditor_headers()
    both = api.get("/ledger/proofs/inclusion", params={"index": 0, "entry_id": "dl-x"}, headers=auditor)
    neither = api.get("/ledger/proofs/inclusion", params={"tree_size": 1}, headers=auditor)
    for response in (both, neither):
        assert response.status_code == 400
        assert response.json()["detail"] == "Give exactly one of index and entry_id."


def test_a_page_of_pending_entries_leads_on_to_the_integrated_ones(api, db, port, seeded, now):
    for i in range(3):
        _release(port, db, now + timedelta(days=9), request_id=f"pending-{i}")
    db.commit()
    headers = resident_headers("resident-a")
    page = api.get("/ledger/me/entries", params={"limit": 2}, headers=headers).json()
    assert [e["integrated"] for e in page["entries"]] == [False, False]
    assert page["next_before"] == 6  # the tree's size: the integrated entries follow
    rest = api.get("/ledger/me/entries", params={"limit": 10, "before": 6}, headers=headers).json()
    assert [e["index"] for e in rest["entries"]] == [5, 3, 1, 0]
    exported = api.get("/ledger/me/entries/export", params={"format": "json"}, headers=headers).json()
    assert [e["index"] for e in exported["entries"]] == [None, None, None, 5, 3, 1, 0]


def test_consistency_proofs_verify_between_checkpoints(api, db, port, seeded, now):
    auditor = auditor_headers()
    old = api.post("/ledger/checkpoints", headers=auditor).json()
    for i in range(5):
        port.record_disclosure(
            db,
            resident_id="resident-c",
            client_id="td-licensing",
            department="TD",
            channel="userinfo",
            fields=["sub"],
            purpose="Licence",
            grant_id=None,
            legal_basis=None,
            request_id=f"later-{i}",
            now=now + timedelta(days=10),
        )
    port.ledger.integrate(db, now, limit=100, sign=False)
    db.commit()
    new = api.post("/ledger/checkpoints", headers=auditor).json()
    body = api.get(
        "/ledger/proofs/consistency", params={"old_size": old["tree_size"]}, headers=auditor
    ).json()
    assert (body["old_size"], body["new_size"]) == (6, 11)
    assert body["old_root"] == old["root_hash"] and body["new_root"] == new["root_hash"]
    proof = [b64d(h) for h in body["proof"]]
    assert verify_consistency(6, 11, b64d(old["root_hash"]), b64d(new["root_hash"]), proof)


def test_the_audit_export_verifies_offline_and_tampering_is_caught(api, seeded):
    auditor = auditor_headers()
    vkey = api.get("/ledger/public-key").json()["vkey"]
    api.post("/ledger/checkpoints", headers=auditor)
    response = api.get("/ledger/audit/export", headers=auditor)
    assert response.headers["content-type"].startswith("application/jsonl")
    lines = response.text.splitlines()
    assert len(lines) == 6 + 2
    # Entry 4 has the sign-in basis, which the core verifier may not know yet; check the
    # rest by cutting the export at the checkpoint of size 1 and verifying what is covered.
    report = verify_export(lines[:2], vkey)
    assert report.ok and report.entries_checked == 1
    tampered = list(lines)
    entry = json.loads(tampered[0])
    entry["fields"] = ["hkid_number"]
    tampered[0] = json.dumps(entry)
    assert not verify_export(tampered[:2], vkey).ok


def test_the_audit_export_ends_at_the_latest_checkpoint_unless_asked(api, seeded):
    auditor = auditor_headers()
    covered = api.get("/ledger/audit/export", headers=auditor).text.splitlines()
    assert len(covered) == 2  # entry 0 and the checkpoint signed at the first append
    everything = api.get("/ledger/audit/export", params={"include_uncovered": "true"}, headers=auditor)
    assert len(everything.text.splitlines()) == 7


def test_an_auditors_failed_query_is_logged_too(api, db, seeded):
    response = api.get("/ledger/proofs/inclusion", params={"index": 999}, headers=auditor_headers())
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["instance"] == "/ledger/proofs/inclusion"
    access = db.scalars(select(AuditAccess).order_by(AuditAccess.id.desc())).first()
    assert (access.action, access.status, access.parameters) == ("proof.inclusion", 404, {"index": 999})


# -- a damaged ledger: 503 problem+json with a stable type, never a 500 ---------------------


def assert_inconsistent(response, fragment: str) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == LEDGER_INCONSISTENT and body["title"] == "Ledger inconsistent"
    assert fragment in body["detail"]


def test_a_missing_node_makes_proofs_a_503_problem(api, db, seeded):
    auditor = auditor_headers()
    api.post("/ledger/checkpoints", headers=auditor)
    # Entry 0's path in a tree of 6: leaf 1, node (1, 1), node (1, 2).
    db.execute(delete(MerkleNode).where(MerkleNode.level == 1, MerkleNode.index == 1))
    db.commit()
    proof = api.get("/ledger/proofs/inclusion", params={"index": 0}, headers=auditor)
    assert_inconsistent(proof, "the Merkle node at level 1, index 1 is missing")
    consistency = api.get("/ledger/proofs/consistency", params={"old_size": 2}, headers=auditor)
    assert_inconsistent(consistency, "the Merkle node at level 1, index 1 is missing")
    access = db.scalars(select(AuditAccess).order_by(AuditAccess.id.desc())).first()
    assert (access.action, access.status) == ("proof.consistency", 503)


def test_the_audit_export_refuses_before_streaming_when_an_entry_is_missing(api, db, seeded):
    auditor = auditor_headers()
    api.post("/ledger/checkpoints", headers=auditor)
    db.execute(delete(LedgerEntry).where(LedgerEntry.index == 3))
    db.commit()
    response = api.get("/ledger/audit/export", headers=auditor)  # was: a 200 cut short
    assert_inconsistent(response, "1 of the entries below 6 are missing")
    access = db.scalars(select(AuditAccess).order_by(AuditAccess.id.desc())).first()
    assert (access.action, access.status) == ("ledger.export", 503)


def test_an_export_the_server_cannot_finish_ends_in_a_line_the_verifier_reports(api, seeded, monkeypatch):
    auditor = auditor_headers()
    vkey = api.get("/ledger/public-key").json()["vkey"]
    api.post("/ledger/checkpoints", headers=auditor)
    ledger = api.app.state.ledger
    stream = ledger.export_stream

    def vanishing(sessions, plan):
        lines = stream(sessions, plan)
        yield next(lines)
        yield next(lines)
        raise LedgerInconsistent("entry 1 is missing")

    monkeypatch.setattr(ledger, "export_stream", vanishing)
    response = api.get("/ledger/audit/export", headers=auditor)
    assert response.status_code == 200
    lines = response.text.splitlines()
    assert json.loads(lines[-1]) == {"type": "error", "message": "entry 1 is missing"}
    report = verify_export(lines, vkey)
    assert not report.ok and report.error_line == 3
    assert "the export is incomplete, the server stopped it: entry 1 is missing" in report.first_error


def test_signing_over_a_damaged_ledger_is_refused_with_a_503(api, db, seeded):
    state = repository.read_frontier(db)
    db.execute(update(LedgerFrontier).values(hashes=bytes([state.hashes[0] ^ 1]) + state.hashes[1:]))
    db.commit()
    response = api.post("/ledger/checkpoints", headers=auditor_headers())
    assert_inconsistent(response, "the stored frontier (size 6) does not match the stored entries")
    assert api.get("/ledger/checkpoints/latest", headers=auditor_headers()).json()["tree_size"] == 1


def test_the_app_checks_its_ledger_at_start_up(runtime, db, seeded):
    db.execute(update(LedgerEntry).where(LedgerEntry.index == 3).values(purpose="Changed"))
    db.commit()
    app = create_app(runtime, config=ConsentConfig(), jwks=provider_jwks())
    assert app.state.ledger.integrity.status().state == "unchecked"
    with TestClient(app):
        status = app.state.ledger.integrity.status()
    # Entry 3 is after the latest checkpoint (size 1): the cheap start-up check re-hashes it.
    assert status.readiness == "inconsistent: entry 3 does not match its stored leaf hash"
