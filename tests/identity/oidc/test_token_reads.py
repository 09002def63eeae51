"""The hot paths read a token with what they need of its account in one statement:
introspection its status (a token stays active only while its account is), userinfo the
sealed fields its claims are made of."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import event, select

from identity.clients.models import ClientsVersion
from identity.clients.repository import raise_version, version
from identity.oidc.adapter import RequestContext, current
from identity.oidc.server import find_token
from identity.oidc.token_reads import token_with_sealed_claims
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


def test_userinfos_read_gives_the_token_with_its_accounts_sealed_claims(db, runtime):
    account, _ = create_resident(db, runtime)
    db.add_all([_refresh_token(account.id, "residents"), _refresh_token("no-such-account", "orphan")])
    db.flush()

    row, claims = token_with_sealed_claims(db, "jti-residents")
    assert row.jti == "jti-residents" and row.account_id == account.id
    assert claims is not None and claims.id == account.id and claims.active
    assert claims.profile_encrypted == account.profile_encrypted
    assert claims.hkid_encrypted == account.hkid_encrypted

    account.status = "suspended"
    db.flush()
    assert token_with_sealed_claims(db, "jti-residents")[1].active is False
    assert token_with_sealed_claims(db, "jti-orphan")[1] is None
    assert token_with_sealed_claims(db, "jti-unknown") is None


def test_userinfos_read_gives_the_clients_version_its_client_lookup_then_reads_no_more(db, runtime):
    account, _ = create_resident(db, runtime)
    db.add(_refresh_token(account.id, "residents"))
    db.flush()
    raise_version(db)  # as any change to a client does, in its own transaction
    db.commit()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, _parameters, _context, _many):
        statements.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        token_with_sealed_claims(db, "jti-residents")
        read = version(db)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert read == db.scalar(select(ClientsVersion.version)) >= 1
    [statement] = [s for s in statements if "idp_clients_version" in s]
    assert "idp_tokens" in statement, "the version came with the token, not in a read of its own"
