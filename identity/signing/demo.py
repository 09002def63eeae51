"""The demo's signing CA: created once (its own root), its certificate written to the data
directory like `egate signing-ca init` does. Idempotent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from identity.signing import authority, repository
from identity.signing.authority import AuthorityStore
from identity.signing.cli import write_ca_file
from kit.settings import Settings


def seed_signing_ca(db: Session, settings: Settings, master_key: bytes, now: datetime) -> None:
    if not any(row.role == authority.CA for row in repository.active_authorities(db)):
        authority.initialise(db, master_key, now, issuer=settings.issuer)
    write_ca_file(settings, AuthorityStore(master_key).current(db).published_pem())
