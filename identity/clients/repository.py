"""Every query on the department clients."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from identity.clients.models import Client


def get(db: Session, client_id: str) -> Client | None:
    return db.get(Client, client_id)


def add(db: Session, client: Client) -> None:
    db.add(client)
    db.flush()


def all_by_id(db: Session) -> Sequence[Client]:
    return db.scalars(select(Client).order_by(Client.client_id)).all()
