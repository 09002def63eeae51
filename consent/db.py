"""The consent service's tables (on the kernel's one declarative base); they are named ``consent_*``."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from kit.db import Base

TABLE_PREFIX = "consent_"
MODEL_MODULES: tuple[str, ...] = ("consent.grants.models", "consent.ledger.models")


def load_models() -> MetaData:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
