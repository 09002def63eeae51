"""A resident lists and withdraws their consent grants over the API."""

from __future__ import annotations

from dataclasses import dataclass

from tests.consent.conftest import department_headers, resident_headers


@dataclass(frozen=True)
class Request:
    resident_id: str
    client_id: str = "td-licensing"
    department: str = "TD"
    fields: tuple[str, ...] = ("name", "email")
    purpose_en: str = "Driving licence renewal"
    purpose_zh: str = "續期駕駛執照"


def test_a_resident_lists_and_revokes_their_grants(api, db, port, now):
    mine = port.record_grant(db, Request("resident-a"), remember=True, given_via="consent-page", now=now)
    once = port.record_grant(db, Request("resident-a"), remember=False, given_via="consent-page", now=now)
    theirs = port.record_grant(db, Request("resident-b"), remember=True, given_via="consent-page", now=now)
    db.commit()
    headers = resident_headers("resident-a")
    grants = api.get("/grants", headers=headers).json()["grants"]
    assert {g["grant_id"] for g in grants} == {mine, once}
    listed = next(g for g in grants if g["grant_id"] == mine)
    assert listed["fields"] == ["email", "name"] and listed["purpose_zh"] == "續期駕駛執照"
    assert listed["status"] == "active" and listed["remembered"] is True

    revoked = api.post(f"/grants/{mine}/revoke", headers=headers)
    assert revoked.status_code == 200
    assert (revoked.json()["status"], revoked.json()["revoked_by"]) == ("revoked", "resident")
    assert not port.grant_is_valid(db, mine, now)
    assert [g["grant_id"] for g in api.get("/grants", headers=headers).json()["grants"]] == [once]
    everything = api.get("/grants", params={"status": "all"}, headers=headers).json()["grants"]
    assert {g["grant_id"] for g in everything} == {mine, once}

    other = api.post(f"/grants/{theirs}/revoke", headers=headers)
    assert other.status_code == 404
    assert other.headers["content-type"] == "application/problem+json"
    assert port.grant_is_valid(db, theirs, now)


def test_grants_need_a_resident_token(api):
    assert api.get("/grants").status_code == 401
    assert api.get("/grants", headers=department_headers("TD")).status_code == 403
    assert api.post("/grants/cg-x/revoke", headers=department_headers("TD")).status_code == 403
    bad = api.get("/grants", params={"status": "sometimes"}, headers=resident_headers("resident-a"))
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
