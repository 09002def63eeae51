"""The token reads of introspection and userinfo: the token with what each needs of its
account, in one statement rather than two (a PreparedRead over an outer join); userinfo's
with the clients' version too. Here, above the repositories, since the tokens' package does
not depend on the accounts' or the clients'."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from identity.accounts import repository as accounts_repository
from identity.accounts.models import Account
from identity.clients import repository as clients_repository
from identity.tokens.models import IssuedToken, TokenView
from kit.db import table_of
from kit.prepared import PreparedRead

_TOKENS = table_of(IssuedToken)
_ACCOUNTS = table_of(Account)
_TOKEN_COLUMNS = tuple(_TOKENS.c[f.name] for f in fields(TokenView))


def _with_account(*account_columns: Any) -> Select[Any]:
    return select(*_TOKEN_COLUMNS, *account_columns).select_from(
        _TOKENS.outerjoin(_ACCOUNTS, _ACCOUNTS.c.id == _TOKENS.c.account_id)
    )


_STATUS_BY_JTI = PreparedRead(_with_account(_ACCOUNTS.c.status).where(_TOKENS.c.jti == bindparam("key")))
_STATUS_BY_HASH = PreparedRead(
    _with_account(_ACCOUNTS.c.status).where(_TOKENS.c.token_hash == bindparam("key"))
)
# With the clients' version, which userinfo's client lookup then need not read.
_SEALED_CLAIMS_BY_JTI = PreparedRead(
    _with_account(*accounts_repository.SEALED_CLAIMS_COLUMNS, clients_repository.version_column()).where(
        _TOKENS.c.jti == bindparam("key")
    )
)


def token_with_account_status(
    db: Session, *, jti: str | None = None, token_hash: str | None = None
) -> tuple[TokenView, str | None] | None:
    """The token named by ``jti`` or else ``token_hash``, with its account's status (None: a
    client's own token, or an account that is gone)."""
    if jti is not None:
        row = _STATUS_BY_JTI.first(db, {"key": jti})
    else:
        row = _STATUS_BY_HASH.first(db, {"key": token_hash})
    if row is None:
        return None
    *columns, status = row
    return TokenView(*columns), status


def token_with_sealed_claims(
    db: Session, jti: str
) -> tuple[TokenView, accounts_repository.SealedClaims | None] | None:
    """The token named ``jti`` with its account's sealed claims (None: no account)."""
    row = _SEALED_CLAIMS_BY_JTI.first(db, {"key": jti})
    if row is None:
        return None
    *columns, clients_version = row
    clients_repository.note_version(db, clients_version)
    token_columns = len(_TOKEN_COLUMNS)
    return TokenView(*columns[:token_columns]), accounts_repository.sealed_claims_of(columns[token_columns:])
