"""One Alembic history: it agrees with the models and goes up and down on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from egate.schema import all_metadata
from kit import migrations
from kit.db import create_db_engine
from tests.support.databases import new_database_url

SERVICE_PREFIXES = ("idp_", "consent_", "forms_")


def test_models_and_migrations_agree(db_engine):
    with db_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "target_metadata": all_metadata()}
        )
        differences = compare_metadata(context, all_metadata())
    assert differences == []


def test_every_table_belongs_to_one_service():
    for table in all_metadata().tables:
        assert table.startswith(SERVICE_PREFIXES), table


def test_upgrade_to_head_then_downgrade_to_base(backend, request, tmp_path):
    engine = create_db_engine(new_database_url(backend, request, tmp_path))
    try:
        migrations.upgrade(engine)
        assert not migrations.is_behind(engine)
        tables = set(inspect(engine).get_table_names())
        expected = set(all_metadata().tables)
        assert expected <= tables
        migrations.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrations.upgrade(engine)
        assert expected <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
