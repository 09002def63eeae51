"""The identity service's declarative base; its tables are named ``idp_*``."""

from __future__ import annotations

import importlib
from datetime import datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from egate.db import UTCDateTime, new_metadata

TABLE_PREFIX = "idp_"
MODEL_MODULES = (
    "identity.accounts.models",
    "identity.clients.models",
    "identity.devices.models",
    "identity.keys.models",
    "identity.sessions.models",
    "identity.tokens.models",
)


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


def load_models() -> MetaData:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
