"""The consent service's declarative base; its tables are named ``consent_*``."""

from __future__ import annotations

import importlib
from datetime import datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from egate.db import UTCDateTime, new_metadata

TABLE_PREFIX = "consent_"
MODEL_MODULES: tuple[str, ...] = ("consent.grants.models", "consent.ledger.models")


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


def load_models() -> MetaData:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
