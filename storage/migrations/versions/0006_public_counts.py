"""A network's public page may show participant counts: networks.public_counts (default off).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing networks keep showing no counts until a coordinator turns them on.
    with op.batch_alter_table("networks") as batch:
        batch.add_column(sa.Column("public_counts", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("public_counts")
