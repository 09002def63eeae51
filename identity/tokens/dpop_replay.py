"""The provider's answer to ``kit.dpop.ProofReplay``: the DPoP proofs already used, kept in
the database so that a proof replayed to another worker, or to another service of the
deployment, is refused there too (RFC 9449 §11.1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from identity.tokens import repository
from kit.db import session_scope


class RequestProofs:
    """Records into the calling request's own unit of work (the provider's endpoints: on
    SQLite a second session would wait for the write lock that request holds)."""

    def __init__(self, db: Session, now: datetime) -> None:
        self.db = db
        self.now = now

    def first_use(self, key: str, expires_at: datetime) -> bool:
        return repository.record_dpop_proof(self.db, key, expires_at, self.now)


class RecordedProofs:
    """Records in a short unit of work of its own, committed at once: for the deployment's
    other resource servers (consent, the forms hub), which hold no session of the
    provider's. The composition root hands it to them."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def first_use(self, key: str, expires_at: datetime) -> bool:
        first = False
        for db in session_scope(self.sessions):
            first = repository.record_dpop_proof(db, key, expires_at, self.clock())
        return first
