"""identity: the clients' version, which every change to a client raises

Issue 16: each process caches the clients it has read (identity/clients/cache.py) and
compares this one number before trusting them, so that a change made through any replica
is seen everywhere at the next request.

Revision ID: 5c1e0f7a9d21
Revises: 9b3026742b6b
Create Date: 2026-12-02 03:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c1e0f7a9d21"
down_revision: str | Sequence[str] | None = "9b3026742b6b"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    versions = op.create_table(
        "idp_clients_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idp_clients_version")),
    )
    op.bulk_insert(versions, [{"id": 1, "version": 1}])


def downgrade() -> None:
    op.drop_table("idp_clients_version")
