"""What a route of the identity provider may ask for, declared once (STYLE.md: Annotated
dependencies). ``identity.app.create_app`` builds these objects once and puts them on
``app.state``; routes declare them next to ``kit.web.DbSession`` and ``kit.web.Now``, and
pass what a service uses down as arguments.

Feature packages add their own next to their routes (``sessions.dependencies.SessionPolicyDep``,
``messaging.delivery.CourierDep``, ``oidc.provider.ProviderDep``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from identity.consent_port import ConsentPort
from identity.security.hashing import PooledHasher
from identity.security.keyring import Keyring
from kit.settings import Settings

# Every function here is async: FastAPI runs a sync dependency in a worker thread, and
# reading an attribute needs none.


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _keyring(request: Request) -> Keyring:
    keyring: Keyring = request.app.state.keyring
    return keyring


async def _hasher(request: Request) -> PooledHasher:
    hasher: PooledHasher = request.app.state.hasher
    return hasher


async def _master_key(request: Request) -> bytes:
    master_key: bytes = request.app.state.master_key
    return master_key


async def _consent(request: Request) -> ConsentPort:
    consent: ConsentPort = request.app.state.consent
    return consent


IdentitySettings = Annotated[Settings, Depends(_settings)]
KeyringDep = Annotated[Keyring, Depends(_keyring)]
HasherDep = Annotated[PooledHasher, Depends(_hasher)]
# Only for the derivations the keyring does not hold (client secrets' digest key).
MasterKey = Annotated[bytes, Depends(_master_key)]
ConsentDep = Annotated[ConsentPort, Depends(_consent)]
