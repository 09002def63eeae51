"""Every service's tables, for Alembic and for the model/migration agreement test."""

from __future__ import annotations

from sqlalchemy import MetaData

import consent.db
import forms_hub.db
import identity.db


def all_metadata() -> MetaData:
    """The one declarative base's metadata, once every service's models are imported."""
    identity.db.load_models()
    consent.db.load_models()
    return forms_hub.db.load_models()
