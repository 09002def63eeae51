"""forms hub: the identity level a submission's release showed

Revision ID: 3d5731c705b1
Revises: bbe87cbb0cce
Create Date: 2026-12-01 23:18:04.167228
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d5731c705b1"
down_revision: str | Sequence[str] | None = "bbe87cbb0cce"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("forms_submissions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_level", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("forms_submissions", schema=None) as batch_op:
        batch_op.drop_column("identity_level")
