"""The pairwise subjects the token issuer remembers (CIBA's login_hint names them)."""

import secrets

from sqlalchemy import delete

from identity.clients.models import Client
from identity.keys.service import KeyCache
from identity.oidc.tokens import RefreshSuccessors, TokenIssuer
from identity.tokens import repository as tokens_repository
from identity.tokens.models import SubjectRecord
from identity.tokens.subjects import SubjectIdentifiers

SECTOR = "tax.example"


def _issuer() -> TokenIssuer:
    master = secrets.token_bytes(32)
    return TokenIssuer(
        "https://id.example", KeyCache(master), SubjectIdentifiers(master), RefreshSuccessors(master)
    )


def _client() -> Client:
    return Client(client_id="tax", sector_identifier=SECTOR, subject_type="pairwise")


def _remembered(db, sub):
    db.expunge_all()  # read the row, not an entity an earlier read left in the session
    record = tokens_repository.subject(db, SECTOR, sub)
    return record.account_id if record else None


def test_a_subject_is_remembered_once_it_is_seen_committed(db):
    issuer, client = _issuer(), _client()
    sub = issuer.remember_subject(db, client, "acct-1")
    assert issuer.remember_subject(db, client, "acct-1") == sub  # its own row, not yet committed
    db.commit()
    assert _remembered(db, sub) == "acct-1"
    issuer.remember_subject(db, client, "acct-1")  # the insert finds the committed row
    db.execute(delete(SubjectRecord))
    db.commit()
    issuer.remember_subject(db, client, "acct-1")  # known: nothing is written any more
    db.commit()
    assert _remembered(db, sub) is None


def test_a_subject_whose_insert_rolled_back_is_inserted_again(db):
    issuer, client = _issuer(), _client()
    sub = issuer.remember_subject(db, client, "acct-2")
    issuer.remember_subject(db, client, "acct-2")
    db.rollback()
    assert _remembered(db, sub) is None
    issuer.remember_subject(db, client, "acct-2")
    db.commit()
    assert _remembered(db, sub) == "acct-2"
