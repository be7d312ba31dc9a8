"""Matching exclusions (brand–provider pairs never to propose) and users' display names.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "match_exclusions",
        sa.Column("brand_id", sa.String(64), nullable=False),
        sa.Column("provider_id", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["providers.provider_id"],
            name="fk_match_exclusions_provider_id_providers",
        ),
        sa.PrimaryKeyConstraint("brand_id", "provider_id", name="pk_match_exclusions"),
    )
    op.add_column("users", sa.Column("display_name", sa.String(200), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: the audit log must not be dropped")
