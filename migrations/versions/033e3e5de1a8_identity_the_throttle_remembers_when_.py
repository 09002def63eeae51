"""identity: the throttle remembers when the owner was told

Revision ID: 033e3e5de1a8
Revises: 005e6868bb62
Create Date: 2026-12-01 20:52:30.849625
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kit.db

revision: str = "033e3e5de1a8"
down_revision: str | Sequence[str] | None = "005e6868bb62"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("idp_login_throttle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("notified_at", kit.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idp_login_throttle", schema=None) as batch_op:
        batch_op.drop_column("notified_at")
