"""Consent grants through the port the provider calls: remembered and per-request consent,
partial coverage, expiry, and revocation by the resident."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest

from consent.config import ConsentConfig, GrantPolicy
from consent.grants.service import GrantNotFound
from consent.port import LedgerConsentPort


@dataclass(frozen=True)
class Request:
    """Shaped like identity.consent_port.ConsentRequest (consent never imports identity)."""

    resident_id: str = "resident-a"
    client_id: str = "td-licensing"
    department: str = "TD"
    fields: tuple[str, ...] = ("name", "email")
    purpose_en: str = "Driving licence renewal"
    purpose_zh: str = "續期駕駛執照"


def test_nothing_covers_a_first_request(db, port, now):
    decision = port.find_covering_grant(db, Request(), now)
    assert decision.grant_id is None
    assert decision.missing_fields == ("name", "email")


def test_a_remembered_grant_covers_later_requests_for_its_fields(db, port, now):
    grant_id = port.record_grant(db, Request(), remember=True, given_via="consent-page", now=now)
    decision = port.find_covering_grant(db, Request(), now + timedelta(days=1))
    assert (decision.grant_id, decision.missing_fields) == (grant_id, ())
    assert port.find_covering_grant(db, Request(fields=("email",)), now).missing_fields == ()
    assert port.grant_is_valid(db, grant_id, now)


def test_a_request_for_more_fields_names_the_grant_and_what_is_missing(db, port, now):
    grant_id = port.record_grant(db, Request(), remember=True, given_via="consent-page", now=now)
    decision = port.find_covering_grant(db, Request(fields=("name", "email", "hkid_number")), now)
    assert decision.grant_id == grant_id
    assert decision.missing_fields == ("hkid_number",)


def test_the_grant_covering_most_fields_is_offered(db, port, now):
    port.record_grant(db, Request(fields=("name",)), remember=True, given_via="page", now=now)
    wider = port.record_grant(db, Request(fields=("name", "email")), remember=True, given_via="page", now=now)
    decision = port.find_covering_grant(db, Request(fields=("name", "email", "address")), now)
    assert (decision.grant_id, decision.missing_fields) == (wider, ("address",))


@pytest.mark.parametrize(
    "other",
    [
        Request(resident_id="resident-b"),
        Request(client_id="ird-etax"),
        Request(purpose_en="Tax return"),
    ],
)
def test_a_grant_covers_only_its_resident_client_and_purpose(db, port, now, other):
    port.record_grant(db, Request(), remember=True, given_via="page", now=now)
    assert port.find_covering_grant(db, other, now).grant_id is None


def test_a_per_request_grant_is_valid_for_its_flow_but_never_offered_again(db, port, now):
    grant_id = port.record_grant(db, Request(), remember=False, given_via="consent-page", now=now)
    assert port.grant_is_valid(db, grant_id, now + timedelta(minutes=5))
    assert port.find_covering_grant(db, Request(), now).grant_id is None
    [view] = port.list_grants(db, "resident-a")
    assert view.remembered is False and view.fields == ("email", "name")


def test_grants_expire(db, runtime, now):
    policy = GrantPolicy(remembered_for=timedelta(days=30), per_request_for=timedelta(hours=1))
    port = LedgerConsentPort(runtime, ConsentConfig(grants=policy))
    remembered = port.record_grant(db, Request(), remember=True, given_via="page", now=now)
    once = port.record_grant(db, Request(), remember=False, given_via="page", now=now)
    later = now + timedelta(days=31)
    assert not port.grant_is_valid(db, remembered, later)
    assert not port.grant_is_valid(db, once, now + timedelta(hours=2))
    assert port.find_covering_grant(db, Request(), later).grant_id is None
    statuses = {v.grant_id: v.status for v in port.list_grants(db, "resident-a")}
    assert statuses[remembered] in ("active", "expired")
    assert {v.expires_at for v in port.list_grants(db, "resident-a")} == {
        now + timedelta(days=30),
        now + timedelta(hours=1),
    }


def test_revocation_takes_effect_on_the_next_check(db, port, now):
    grant_id = port.record_grant(db, Request(), remember=True, given_via="page", now=now)
    view = port.revoke_grant(db, "resident-a", grant_id, now + timedelta(minutes=1))
    assert (view.status, view.revoked_by) == ("revoked", "resident")
    assert not port.grant_is_valid(db, grant_id, now + timedelta(minutes=1))
    assert port.find_covering_grant(db, Request(), now + timedelta(minutes=2)).grant_id is None
    again = port.revoke_grant(db, "resident-a", grant_id, now + timedelta(hours=1))
    assert again.revoked_at == now + timedelta(minutes=1)


def test_a_resident_cannot_revoke_another_residents_grant(db, port, now):
    grant_id = port.record_grant(db, Request(), remember=True, given_via="page", now=now)
    with pytest.raises(GrantNotFound):
        port.revoke_grant(db, "resident-b", grant_id, now)
    with pytest.raises(GrantNotFound):
        port.revoke_grant(db, "resident-a", "cg-unknown", now)
    assert port.grant_is_valid(db, grant_id, now)


def test_unknown_grants_are_not_valid(db, port, now):
    assert not port.grant_is_valid(db, "cg-unknown", now)


def test_a_grant_records_what_the_resident_saw(db, port, now):
    grant_id = port.record_grant(
        db, Request(fields=("email", "name", "email")), remember=True, given_via="app:qr", now=now
    )
    [view] = port.list_grants(db, "resident-a")
    assert view.grant_id == grant_id
    assert view.fields == ("email", "name")
    assert (view.purpose_en, view.purpose_zh) == ("Driving licence renewal", "續期駕駛執照")
    assert (view.client_id, view.department, view.given_via, view.given_at) == (
        "td-licensing",
        "TD",
        "app:qr",
        now,
    )
    assert port.list_grants(db, "resident-b") == []
