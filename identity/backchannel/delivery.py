"""Sending the logout tokens owed (OpenID Connect Back-Channel Logout 1.0 §2.5): after the
response of the request that ended the sessions, and from the retry job.

Each delivery is claimed, signed and sent outside any transaction: claimed in a short unit
of work (so two workers never send the same one at once), posted as
``application/x-www-form-urlencoded`` ``logout_token=...`` with a short timeout to the
client's ``backchannel_logout_uri`` through the outbound policy (``kit.outbound``: public
https, checked again at send time against DNS rebinding, no redirects followed), and its
outcome recorded in another. 200 or 204 is delivered (§2.8); anything else is retried with
exponential backoff, then given up and shown to operators (`egate logout-deliveries list
--failed`). Log lines name the delivery and the client, never the token or the resident.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.background import BackgroundTask, BackgroundTasks
from starlette.responses import Response

from identity.backchannel import repository, service
from identity.backchannel.logout_token import LogoutTokenSigner
from identity.clients import repository as clients_repository
from identity.db import unit_of_work
from identity.keys.service import KeyCache
from identity.tokens.subjects import SubjectIdentifiers
from kit.outbound import OutboundPolicy, guarded_client, post_callback
from kit.runtime import Runtime

SEND_TIMEOUT_SECONDS = 5.0
BATCH = 100

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    client_id: str
    error: str | None  # None: delivered


@dataclass
class _Ready:
    delivery_id: int
    client_id: str
    reason: str
    uri: str | None
    token: str | None


class LogoutCourier:
    """What delivering logout tokens needs, built once in identity.app.create_app (and by
    the retry job)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        signer: LogoutTokenSigner,
        outbound: OutboundPolicy,
        clock: Callable[[], datetime],
        http: httpx.Client | None = None,
    ) -> None:
        self.sessions = sessions
        self.signer = signer
        self.outbound = outbound
        self.clock = clock
        self.http = http or guarded_client(SEND_TIMEOUT_SECONDS)
        self._lock = threading.Lock()
        self._draining = False
        self._again = False

    def deliver_due(self, limit: int = BATCH) -> list[Outcome]:
        """Attempt every delivery that is due (at most ``limit``), one after the other."""
        with unit_of_work(self.sessions) as db:
            due = repository.due(db, self.clock(), limit)
        outcomes = []
        for delivery_id in due:
            outcome = self.attempt(delivery_id)
            if outcome is not None:
                outcomes.append(outcome)
        return outcomes

    def attempt(self, delivery_id: int) -> Outcome | None:
        """One attempt at one delivery; None when it was not due or another worker took it."""
        ready = self._claim(delivery_id)
        if ready is None:
            return None
        error: str | None
        if ready.uri is None or ready.token is None:
            error = "the client is disabled or no longer registered for back-channel logout"
        else:
            error = self._post(ready.uri, ready.token)
        state, attempts = "gone", 0
        with unit_of_work(self.sessions) as db:
            row = repository.get(db, delivery_id)
            if row is not None:
                now = self.clock()
                if error is None:
                    service.record_delivered(row, now)
                else:
                    service.record_failure(row, error, now, give_up=ready.uri is None)
                state, attempts = row.state, row.attempts
        if error is None:
            log.info("logout token delivered: delivery %s to client %s", delivery_id, ready.client_id)
        else:
            log.warning(
                "logout token not delivered: delivery %s to client %s (%s), attempt %s, %s: %s",
                delivery_id,
                ready.client_id,
                ready.reason,
                attempts,
                state,
                error,
            )
        return Outcome(delivery_id, ready.client_id, error)

    def _claim(self, delivery_id: int) -> _Ready | None:
        """Claims the delivery and signs a fresh token for it (new ``jti`` and ``exp``)."""
        with unit_of_work(self.sessions) as db:
            now = self.clock()
            if not repository.claim(db, delivery_id, now, now + service.ATTEMPT_LEASE):
                return None
            row = repository.get(db, delivery_id)
            if row is None:
                return None
            client = clients_repository.get(db, row.client_id)
            if client is None or client.disabled or not client.backchannel_logout_uri:
                return _Ready(row.id, row.client_id, row.reason, None, None)
            token = self.signer.sign(db, client, row.account_id, row.sid, now)
            return _Ready(row.id, row.client_id, row.reason, client.backchannel_logout_uri, token)

    def _post(self, uri: str, token: str) -> str | None:
        """None when the client took the token (200 or 204, §2.8); otherwise why not, in
        words safe to log."""
        return post_callback(
            self.http,
            self.outbound,
            uri,
            named="the back-channel logout URI",
            accepted=(200, 204),
            data={"logout_token": token},
        )

    def drain(self) -> None:
        """Deliver what is due, in at most one thread of this process at a time: a request
        that finds a drain running only asks it for one more round, so a department that is
        down (each attempt waiting for its timeout) holds one worker thread, not one per
        sign-out."""
        with self._lock:
            if self._draining:
                self._again = True
                return
            self._draining = True
        try:
            while True:
                with self._lock:
                    self._again = False
                self.deliver_due()
                with self._lock:
                    if not self._again:
                        return
        finally:
            with self._lock:
                self._draining = False

    def after_response(self) -> BackgroundTask:
        """Deliver what is due once the response is sent (the request has committed by then)."""
        return BackgroundTask(self.drain)


def logout_courier_for(runtime: Runtime, keys: KeyCache | None = None) -> LogoutCourier:
    """The deployment's courier; ``keys``: the provider's own cache of its signing keys."""
    settings = runtime.settings
    signer = LogoutTokenSigner(
        settings.issuer, keys or KeyCache(runtime.master_key), SubjectIdentifiers(runtime.master_key)
    )
    return LogoutCourier(runtime.sessions, signer, settings.outbound_policy, runtime.clock)


def deliver_after(response: Response, courier: LogoutCourier) -> Response:
    """Adds the logout deliveries to what ``response`` does once sent (after any task it
    already has, such as the outbox's)."""
    task = courier.after_response()
    if response.background is None:
        response.background = task
    else:
        response.background = BackgroundTasks([response.background, task])
    return response


async def _logout_courier(request: Request) -> LogoutCourier:  # async: no thread hop
    courier: LogoutCourier = request.app.state.logout_courier
    return courier


LogoutCourierDep = Annotated[LogoutCourier, Depends(_logout_courier)]
