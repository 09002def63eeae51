"""The forms_hub service's declarative base; its tables are named ``forms_*``."""

from __future__ import annotations

import importlib
from datetime import datetime

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

from egate.db import UTCDateTime, new_metadata

TABLE_PREFIX = "forms_"
MODEL_MODULES: tuple[str, ...] = (
    "forms_hub.definitions.models",
    "forms_hub.submissions.models",
    "forms_hub.attachments.models",
    "forms_hub.licences.models",
    "forms_hub.oidc_client.models",
)


class Base(DeclarativeBase):
    metadata = new_metadata()
    type_annotation_map = {datetime: UTCDateTime()}


def load_models() -> MetaData:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
