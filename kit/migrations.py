"""Alembic driven from code, so `serve`, the CLI and the tests migrate the same way."""

from __future__ import annotations

from collections.abc import Collection
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


class ProtectedTablesError(Exception):
    """A downgrade would drop tables that must not go without the operator's confirmation."""


def downgrade(
    engine: Engine,
    revision: str,
    *,
    protected_tables: Collection[str] = (),
    allow_dropping_protected: bool = False,
) -> None:
    """Downgrade to ``revision`` in one transaction (both backends have transactional DDL).

    When the downgrade would drop any of ``protected_tables`` and that was not allowed, the
    transaction is rolled back and nothing changes: irreplaceable data (the ledger and its
    sealed signing key) never goes by a mistyped command.
    """
    with engine.begin() as connection:
        before = set(inspect(connection).get_table_names())
        command.downgrade(alembic_config(connection), revision)
        after = set(inspect(connection).get_table_names())
        dropped = sorted((before - after) & set(protected_tables))
        if dropped and not allow_dropping_protected:
            raise ProtectedTablesError(", ".join(dropped))


def new_revision(engine: Engine, message: str) -> None:
    """Autogenerate a migration from the difference between the models and the database."""
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)


def is_behind(engine: Engine) -> bool:
    with engine.connect() as connection:
        return current_revision(connection) != head_revision()
