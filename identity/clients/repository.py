"""Every query on the department clients."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ScalarSelect, insert, select, update
from sqlalchemy.orm import Session

from identity.clients.models import Client, ClientsVersion
from kit.db import table_of
from kit.prepared import PreparedRead


def get(db: Session, client_id: str) -> Client | None:
    return db.get(Client, client_id)


def add(db: Session, client: Client) -> None:
    db.add(client)
    db.flush()
    raise_version(db)


def all_by_id(db: Session) -> Sequence[Client]:
    return db.scalars(select(Client).order_by(Client.client_id)).all()


VERSION_ROW = 1
_VERSIONS = table_of(ClientsVersion)
_VERSION_SELECT = select(_VERSIONS.c.version).where(_VERSIONS.c.id == VERSION_ROW)
_READ_VERSION = PreparedRead(_VERSION_SELECT)


_VERSION_READ = "identity.clients.version"


def version(db: Session) -> int:
    """The clients' version (0 before anything raised it), read once per session: a
    request that looks a client up twice (authentication, then the token's owner) reads it
    once."""
    known: int | None = db.info.get(_VERSION_READ)
    if known is None:
        known = db.info[_VERSION_READ] = _READ_VERSION.scalar(db) or 0
    return known


def version_column() -> ScalarSelect[int]:
    """The clients' version as a column of another read (``note_version`` keeps what it gave):
    a hot path that reads a token and then its client saves a statement."""
    return _VERSION_SELECT.scalar_subquery()


def note_version(db: Session, read: int | None) -> None:
    """The version as ``version_column`` read it in ``db``'s transaction, where ``version``
    has not read it yet (the snapshot is the same)."""
    db.info.setdefault(_VERSION_READ, read or 0)


def raise_version(db: Session) -> None:
    """Called in the transaction of every change to a client (see models.ClientsVersion)."""
    db.info.pop(_VERSION_READ, None)
    raised = db.execute(
        update(_VERSIONS).where(_VERSIONS.c.id == VERSION_ROW).values(version=_VERSIONS.c.version + 1)
    )
    if raised.rowcount == 0:  # type: ignore[attr-defined]
        db.execute(insert(_VERSIONS).values(id=VERSION_ROW, version=1))
