"""identity: audit-system clients, rotating session cookies

Revision ID: 005e6868bb62
Revises: 5c1e0d7a9b24
Create Date: 2026-12-01 20:52:05.742056

``idp_clients.audit_system``: whether a client's own client_credentials tokens may carry
``ledger:audit`` (false for every client registered before).
``idp_sessions.cookie_hash``: the hash of the session cookie's current token, apart from the
session's id so that re-authentication can replace it. Until now the id was that hash, so
existing sessions keep working with the cookie they hold.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "005e6868bb62"
down_revision: str | Sequence[str] | None = "5c1e0d7a9b24"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idp_clients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("audit_system", sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    with op.batch_alter_table("idp_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cookie_hash", sa.String(length=64), nullable=True))
    op.execute(sa.text("UPDATE idp_sessions SET cookie_hash = id"))
    with op.batch_alter_table("idp_sessions", schema=None) as batch_op:
        batch_op.alter_column("cookie_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f("uq_idp_sessions_cookie_hash"), ["cookie_hash"])


def downgrade() -> None:
    # A session whose cookie was rotated cannot be found by its id any more: end it (at its
    # last use, a UTC time already in the table, whatever the backend's own clock zone).
    op.execute(
        sa.text(
            "UPDATE idp_sessions SET ended_at = last_seen_at WHERE cookie_hash <> id AND ended_at IS NULL"
        )
    )
    with op.batch_alter_table("idp_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_idp_sessions_cookie_hash"), type_="unique")
        batch_op.drop_column("cookie_hash")

    with op.batch_alter_table("idp_clients", schema=None) as batch_op:
        batch_op.drop_column("audit_system")
