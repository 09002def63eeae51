"""The identity service's tables (on the kernel's one declarative base); they are named ``idp_*``."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from kit.db import Base

TABLE_PREFIX = "idp_"
MODEL_MODULES = (
    "identity.accounts.models",
    "identity.clients.models",
    "identity.devices.models",
    "identity.keys.models",
    "identity.sessions.models",
    "identity.tokens.models",
)


def load_models() -> MetaData:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
