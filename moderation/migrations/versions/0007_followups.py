"""decision follow-ups written in the decision's commit and swept until the broker takes them; leases for
work one process at a time may do (a retraining)

Revision ID: 0007_followups
Revises: 0006_rendered_once
Create Date: 2026-11-30 02:30:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0007_followups'
down_revision = '0006_rendered_once'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'followups',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('task', sa.String(80), nullable=False),
        sa.Column('comment_id', sa.Integer(), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_followups_claimed_until', 'followups', ['claimed_until'])
    op.create_table(
        'leases',
        sa.Column('name', sa.String(40), primary_key=True),
        sa.Column('holder', sa.String(64), nullable=False),
        sa.Column('held_until', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade():
    op.drop_table('leases')
    op.drop_index('ix_followups_claimed_until', table_name='followups')
    op.drop_table('followups')
