"""The registered clients a process has read, kept between requests.

Client authentication reads the client on every token, introspection and revocation
request; building the ORM row (thirty columns, JSON decoded) cost more than the rest of a
client_credentials grant's storage. A cached client is trusted only while the clients'
version (models.ClientsVersion, one primary-key read per lookup) is the one it was read
under: every change to a client raises it in the change's own transaction, so replicas
never serve a client as it was before a change they did not make.

The cached rows are detached from any session and shared between threads: read them,
never change them (a change goes through identity/clients/service.py on a fresh row).
"""

from __future__ import annotations

import threading

from sqlalchemy.orm import Session

from identity.clients import repository
from identity.clients.models import Client

MAX_CLIENT_ID_LENGTH = 64


class ClientCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._clients: dict[str, Client] = {}

    def get(self, db: Session, client_id: str) -> Client | None:
        """The enabled client, as ``service.get_client`` answers it."""
        if not client_id or len(client_id) > MAX_CLIENT_ID_LENGTH:
            return None
        version = repository.version(db)
        with self._lock:
            if version != self._version:
                self._clients, self._version = {}, version
            client = self._clients.get(client_id)
        if client is None:
            client = repository.get(db, client_id)
            if client is None:
                return None  # unknown ids are not remembered: nothing to fill the cache with
            db.expunge(client)
            with self._lock:
                if self._version == version:
                    self._clients[client_id] = client
        return None if client.disabled else client
