"""The identity service's tables (on the kernel's one declarative base); they are named
``idp_*``. And the one way a CLI command or a job opens a unit of work."""

from __future__ import annotations

import importlib
from contextlib import contextmanager
from typing import Any, cast

from sqlalchemy import CursorResult, MetaData, Result

from kit.db import Base, session_scope

TABLE_PREFIX = "idp_"
MODEL_MODULES = (
    "identity.accounts.models",
    "identity.backchannel.models",
    "identity.clients.models",
    "identity.devices.models",
    "identity.keys.models",
    "identity.messaging.models",
    "identity.proofing.models",
    "identity.sessions.models",
    "identity.signing.models",
    "identity.throttling.models",
    "identity.tokens.models",
)

# ``with unit_of_work(sessions) as db:`` commits when the block ends cleanly and rolls back
# on an exception. Routes never use it: they declare ``db: kit.web.DbSession``.
unit_of_work = contextmanager(session_scope)


def load_models() -> MetaData:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE changed (its result is a CursorResult; Session.execute
    is typed with the base class)."""
    return cast("CursorResult[Any]", result).rowcount
