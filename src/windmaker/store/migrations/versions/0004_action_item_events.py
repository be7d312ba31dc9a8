"""Action item history: one row per change (created, status moved, owner or due date set).

Items that exist before this revision get their creation as the first line of their history.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "action_item_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"], ["action_items.id"], name="fk_action_item_events_item_id_action_items"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_action_item_events"),
    )
    op.create_index("ix_action_item_events_item_id", "action_item_events", ["item_id"])
    op.execute(
        "INSERT INTO action_item_events "
        "(item_id, at, actor, kind, from_status, to_status, owner, due_date, note) "
        "SELECT id, created_at, '', 'created', NULL, status, owner, due_date, '' "
        "FROM action_items"
    )


def downgrade() -> None:
    raise NotImplementedError("the store is never downgraded: the audit log must not be dropped")
