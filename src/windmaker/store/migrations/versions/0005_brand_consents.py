"""The case library's store: brands' consent to be named in cases, and the secret case ids are
keyed with.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "brand_consents",
        sa.Column("brand_id", sa.String(64), nullable=False),
        sa.Column("consented", sa.Boolean(), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("brand_id", name="pk_brand_consents"),
    )
    op.create_table(
        "case_keys",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_keys"),
    )


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: the audit log must not be dropped")
