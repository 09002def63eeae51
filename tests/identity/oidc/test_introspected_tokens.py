"""Introspection reads a token with its account's status in one statement: a token stays
active only while the account it was issued for is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from identity.oidc.adapter import RequestContext, current
from identity.oidc.server import find_token
from identity.oidc.tokens import token_hash
from identity.tokens.models import IssuedToken
from tests.identity.accounts.factories import create_resident

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def _refresh_token(account_id: str | None, value: str) -> IssuedToken:
    return IssuedToken(
        jti=f"jti-{value}",
        kind="refresh",
        token_hash=token_hash(value),
        client_id="tax",
        account_id=account_id,
        scope="openid",
        family_id=f"family-{value}",
        issued_at=NOW,
        expires_at=NOW + timedelta(days=1),
    )


def _found(db, value: str):
    marker = current.set(RequestContext(db=db, now=NOW))
    try:
        return find_token(None, value, "refresh_token")  # type: ignore[arg-type]  # no JWT here
    finally:
        current.reset(marker)


def test_a_token_is_read_with_whether_its_account_is_active(db, runtime):
    account, _ = create_resident(db, runtime)
    db.add_all([_refresh_token(account.id, "residents"), _refresh_token(None, "departments")])
    db.flush()

    residents = _found(db, "residents")
    assert residents.row.account_id == account.id and residents.account_active is True
    assert _found(db, "departments").account_active is True, "a client's own token has no account"

    account.status = "suspended"
    db.flush()
    assert _found(db, "residents").account_active is False
    assert _found(db, "unknown") is None


def test_a_token_whose_account_is_gone_is_not_active(db):
    db.add(_refresh_token("no-such-account", "orphan"))
    db.flush()
    assert _found(db, "orphan").account_active is False
