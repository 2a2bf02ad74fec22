"""readers and other systems told of comments: subscribers and the mails they are owed, webhooks and their deliveries,
and which comments and audit events have been announced

Revision ID: 0009_reach
Revises: 0008_imports
Create Date: 2026-11-30 08:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0009_reach'
down_revision = '0008_imports'
branch_labels = None
depends_on = None

UNANNOUNCED = sa.text('announced_at IS NULL')


def upgrade():
    # ALTER TABLE ... ADD COLUMN, never a batch: SQLite keeps the comments table, and the triggers of migration 0006.
    op.add_column('comments', sa.Column('notify_replies', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('comments', sa.Column('notify_approval', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('comments', sa.Column('announced_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('audit_events', sa.Column('announced_at', sa.DateTime(timezone=True), nullable=True))
    # What happened before this version is not news: no webhook or email for it.
    op.execute('UPDATE comments SET announced_at = created_at')
    op.execute('UPDATE audit_events SET announced_at = created_at')
    op.create_index('ix_comments_unannounced', 'comments', ['id'], sqlite_where=UNANNOUNCED,
                    postgresql_where=UNANNOUNCED)
    op.create_index('ix_audit_events_unannounced', 'audit_events', ['id'], sqlite_where=UNANNOUNCED,
                    postgresql_where=UNANNOUNCED)

    op.create_table(
        'subscribers',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('email_hash', sa.String(64), nullable=False, unique=True),
        sa.Column('email', sa.Text(), nullable=False),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('unsubscribed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('confirmation_sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'mails',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('subscriber_id', sa.Integer(), sa.ForeignKey('subscribers.id', ondelete='CASCADE'), nullable=False),
        sa.Column('comment_id', sa.Integer(), nullable=True),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(500), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('kind', 'subscriber_id', 'comment_id', name='uq_mails_kind_subscriber_comment'),
    )
    op.create_index('ix_mails_state_due', 'mails', ['state', 'due_at'])
    op.create_table(
        'webhooks',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('url', sa.String(2000), nullable=False),
        sa.Column('events', sa.String(200), nullable=False),
        sa.Column('scope', sa.String(20), nullable=False),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('description', sa.String(200), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_by', sa.Integer(), sa.ForeignKey('moderators.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('webhook_id', sa.Integer(), sa.ForeignKey('webhooks.id', ondelete='CASCADE'), nullable=False),
        sa.Column('event', sa.String(20), nullable=False),
        sa.Column('comment_id', sa.Integer(), nullable=True),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sa.String(500), nullable=True),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_webhook_deliveries_state_next', 'webhook_deliveries', ['state', 'next_attempt_at'])
    op.create_index('ix_webhook_deliveries_webhook_id', 'webhook_deliveries', ['webhook_id', 'id'])


def downgrade():
    op.drop_table('webhook_deliveries')
    op.drop_table('webhooks')
    op.drop_table('mails')
    op.drop_table('subscribers')
    op.drop_index('ix_audit_events_unannounced', table_name='audit_events')
    op.drop_index('ix_comments_unannounced', table_name='comments')
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35 and later), which keeps the comments table's triggers.
    for table, column in (('audit_events', 'announced_at'), ('comments', 'announced_at'),
                          ('comments', 'notify_approval'), ('comments', 'notify_replies')):
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
