"""CIBA ping mode (OpenID Connect CIBA 1.0 §10.2): once the resident has answered a
back-channel request in the app, the provider tells the department at its registered
``backchannel_client_notification_endpoint``, with the ``client_notification_token`` the
department gave in its request as a bearer token, and the department then fetches the
tokens at the token endpoint as in poll mode.

The ping needs the ``auth_req_id`` in clear, which the provider otherwise keeps only hashed:
it and the notification token are kept sealed (AES-GCM under a key derived for this use,
bound to the request's id) until the ping is made, then erased. One ping is made, right
after the decision's response, through the outbound policy; a department that misses it
can still poll (the token endpoint answers either way). Log lines never carry either secret.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.background import BackgroundTask

from identity.clients.service import get_client
from identity.db import unit_of_work
from identity.devices import repository
from kit.outbound import OutboundPolicy, guarded_client, post_callback
from kit.sealing import FieldCipher, derive_key

PING_TIMEOUT_SECONDS = 5.0
# CIBA §7.1: at most 1024 characters, with the syntax of a bearer credential (RFC 6750 §2.1).
NOTIFICATION_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_NOTIFICATION_TOKEN = 1024

log = logging.getLogger(__name__)


def valid_notification_token(token: str | None) -> bool:
    return (
        token is not None
        and len(token) <= MAX_NOTIFICATION_TOKEN
        and NOTIFICATION_TOKEN.fullmatch(token) is not None
    )


class PingSealer:
    def __init__(self, master_key: bytes) -> None:
        self._cipher = FieldCipher({"p1": derive_key(master_key, "ciba-ping/v1")}, "p1")

    def seal(self, signin_id: str, auth_req_id: str, notification_token: str) -> str:
        payload = json.dumps([auth_req_id, notification_token])
        return self._cipher.encrypt(payload, context=f"ciba-ping:{signin_id}")

    def open(self, signin_id: str, sealed: str) -> tuple[str, str]:
        auth_req_id, notification_token = json.loads(
            self._cipher.decrypt(sealed, context=f"ciba-ping:{signin_id}")
        )
        return str(auth_req_id), str(notification_token)


class CibaPinger:
    """Built once in identity.app.create_app."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        sealer: PingSealer,
        outbound: OutboundPolicy,
        clock: Callable[[], datetime],
        http: httpx.Client | None = None,
    ) -> None:
        self.sessions = sessions
        self.sealer = sealer
        self.outbound = outbound
        self.clock = clock
        self.http = http or guarded_client(PING_TIMEOUT_SECONDS)

    def notify(self, signin_id: str) -> str | None:
        """Ping the department of a decided ping-mode request, once; returns why it failed
        (None when it was taken, or when there was nothing to ping)."""
        with unit_of_work(self.sessions) as db:
            signin = repository.signin_for_update(db, signin_id)
            if signin is None or signin.ping_sealed is None or signin.status == "pending":
                return None
            client = get_client(db, signin.client_id or "")
            endpoint = client.backchannel_client_notification_endpoint if client else None
            auth_req_id, token = self.sealer.open(signin.id, signin.ping_sealed)
            signin.ping_sealed = None  # one ping; the secrets are not kept once used
            signin.pinged_at = self.clock()
            client_id = signin.client_id
        error = self._post(endpoint, auth_req_id, token) if endpoint else "no notification endpoint"
        if error is None:
            log.info("CIBA ping delivered: request %s to client %s", signin_id, client_id)
        else:
            log.warning("CIBA ping not delivered: request %s to client %s: %s", signin_id, client_id, error)
        return error

    def _post(self, endpoint: str, auth_req_id: str, token: str) -> str | None:
        return post_callback(
            self.http,
            self.outbound,
            endpoint,
            named="the notification endpoint",
            accepted=range(200, 300),
            json={"auth_req_id": auth_req_id},
            bearer=token,
        )

    def after_response(self, signin_id: str) -> BackgroundTask:
        return BackgroundTask(self.notify, signin_id)


async def _pinger(request: Request) -> CibaPinger:  # async: no thread hop
    pinger: CibaPinger = request.app.state.ciba_pinger
    return pinger


CibaPingerDep = Annotated[CibaPinger, Depends(_pinger)]
