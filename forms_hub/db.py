"""The forms_hub service's tables (on the kernel's one declarative base); they are named ``forms_*``."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from kit.db import Base

TABLE_PREFIX = "forms_"
MODEL_MODULES: tuple[str, ...] = (
    "forms_hub.definitions.models",
    "forms_hub.submissions.models",
    "forms_hub.attachments.models",
    "forms_hub.licences.models",
    "forms_hub.oidc_client.models",
)


def load_models() -> MetaData:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return Base.metadata
