"""The forms_hub service's tables (on the kernel's one declarative base); they are named ``forms_*``."""

from __future__ import annotations

from types import ModuleType

from sqlalchemy import MetaData

from forms_hub.attachments import models as attachment_models
from forms_hub.definitions import models as definition_models
from forms_hub.licences import models as licence_models
from forms_hub.oidc_client import models as relying_party_models
from forms_hub.signatures import models as signature_models
from forms_hub.submissions import models as submission_models
from kit.db import Base

TABLE_PREFIX = "forms_"
# Importing a models module registers its tables on Base.metadata.
MODEL_MODULES: tuple[ModuleType, ...] = (
    definition_models,
    submission_models,
    attachment_models,
    licence_models,
    relying_party_models,
    signature_models,
)


def load_models() -> MetaData:
    return Base.metadata
