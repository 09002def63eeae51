"""The consent service's tables (on the kernel's one declarative base); they are named ``consent_*``."""

from __future__ import annotations

from types import ModuleType

from sqlalchemy import MetaData

from consent.grants import models as grant_models
from consent.ledger import models as ledger_models
from kit.db import Base

TABLE_PREFIX = "consent_"
# Importing these registers their tables on Base; imported here, not by name at run time,
# so the import graph (import-linter, grimp) sees the edges.
MODEL_MODULES: tuple[ModuleType, ...] = (grant_models, ledger_models)


def load_models() -> MetaData:
    """The one base's metadata, holding (at least) every consent table."""
    return Base.metadata
