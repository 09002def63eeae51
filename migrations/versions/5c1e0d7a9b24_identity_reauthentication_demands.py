"""identity: sign-ins demanded by authorization requests (prompt=login, max_age)

Revision ID: 5c1e0d7a9b24
Revises: 67bdbbe66128
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kit.db

revision: str = "5c1e0d7a9b24"
down_revision: str | Sequence[str] | None = "67bdbbe66128"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idp_reauthentication_demands",
        sa.Column("handle_hash", sa.String(length=64), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("demanded_at", kit.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", kit.db.UTCDateTime(), nullable=False),
        sa.Column("used_at", kit.db.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("handle_hash", name=op.f("pk_idp_reauthentication_demands")),
    )
    with op.batch_alter_table("idp_reauthentication_demands", schema=None) as batch_op:
        batch_op.create_index("ix_idp_reauthentication_demands_expires", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idp_reauthentication_demands", schema=None) as batch_op:
        batch_op.drop_index("ix_idp_reauthentication_demands_expires")

    op.drop_table("idp_reauthentication_demands")
