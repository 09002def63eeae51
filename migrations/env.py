"""One Alembic history for the three services (their tables carry the prefixes idp_,
consent_ and forms_). Run through kit.migrations, which hands us a connection."""

from alembic import context

from egate.schema import all_metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `egate db upgrade`, which supplies the database")

context.configure(
    connection=connection,
    target_metadata=all_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
