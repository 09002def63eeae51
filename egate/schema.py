"""Every service's tables, for Alembic and for the model/migration agreement test."""

from __future__ import annotations

from sqlalchemy import MetaData


def all_metadata() -> list[MetaData]:
    import consent.db
    import forms_hub.db
    import identity.db

    return [identity.db.load_models(), consent.db.load_models(), forms_hub.db.load_models()]
