"""the moderators' console: trash, staff replies, edits, undoable batches, notes, notifications

Revision ID: 0005_console
Revises: 0004_api_tokens
Create Date: 2026-11-29 19:30:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0005_console'
down_revision = '0004_api_tokens'
branch_labels = None
depends_on = None

OLD_STATES = "state IN ('pending', 'held', 'approved', 'rejected', 'spam')"
# The console's search on PostgreSQL: one trigram index over the text, the name and the website, so that a word found
# in few comments is found without reading them all (moderation/review/services.py uses the same expression).
SEARCH_INDEX = 'ix_comments_search_trgm'
SEARCH_EXPRESSION = "(body || ' ' || author_name || ' ' || coalesce(author_url, ''))"


def _search_index():
    """pg_trgm ships with PostgreSQL and is a trusted extension (13+): the database's owner may create it. Where it
    cannot be had, the search works as before, by reading the comments, and the upgrade says so."""
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text('CREATE EXTENSION IF NOT EXISTS pg_trgm'))
    except sa.exc.DBAPIError as error:
        print(f'pg_trgm is not available ({type(error.orig).__name__}); the search reads the comments instead')
        return
    bind.execute(sa.text(f'CREATE INDEX IF NOT EXISTS {SEARCH_INDEX} ON comments USING gin ({SEARCH_EXPRESSION} gin_trgm_ops)'))
NEW_STATES = "state IN ('pending', 'held', 'approved', 'rejected', 'spam', 'trash')"


def upgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_comments_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_comments_state'), sa.text(NEW_STATES))
        batch_op.add_column(sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('staff_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_comments_staff_id_moderators'), 'moderators', ['staff_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.drop_index('ix_comments_ip_hash')
        batch_op.create_index('ix_comments_ip_hash_state', ['ip_hash', 'state', 'created_at'], unique=False)
        batch_op.create_index('ix_comments_email_hash_state', ['email_hash', 'state', 'created_at'], unique=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        # A comment deleted for good keeps its history.
        batch_op.drop_constraint(op.f('fk_audit_events_comment_id_comments'), type_='foreignkey')
        batch_op.add_column(sa.Column('action', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('batch', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('detail', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_audit_events_moderator_id', ['moderator_id', 'id'], unique=False)
        batch_op.create_index('ix_audit_events_batch', ['batch'], unique=False)
    with op.batch_alter_table('training_examples', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_training_examples_comment_id_comments'), type_='foreignkey')
        batch_op.create_foreign_key(op.f('fk_training_examples_comment_id_comments'), 'comments', ['comment_id'], ['id'],
                                    ondelete='SET NULL')
    _search_index()
    with op.batch_alter_table('moderators', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('notify', sa.String(length=16), nullable=False, server_default='off'))
        batch_op.add_column(sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    op.execute(sa.text(f'DROP INDEX IF EXISTS {SEARCH_INDEX}'))
    with op.batch_alter_table('moderators', schema=None) as batch_op:
        batch_op.drop_column('last_sign_in_at')
        batch_op.drop_column('notified_at')
        batch_op.drop_column('notify')
        batch_op.drop_column('email')
    with op.batch_alter_table('training_examples', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_training_examples_comment_id_comments'), type_='foreignkey')
        batch_op.create_foreign_key(op.f('fk_training_examples_comment_id_comments'), 'comments', ['comment_id'], ['id'],
                                    ondelete='CASCADE')
    op.execute(sa.text('DELETE FROM audit_events WHERE comment_id NOT IN (SELECT id FROM comments)'))
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_batch')
        batch_op.drop_index('ix_audit_events_moderator_id')
        for column in ('undone_at', 'detail', 'note', 'batch', 'action'):
            batch_op.drop_column(column)
        batch_op.create_foreign_key(op.f('fk_audit_events_comment_id_comments'), 'comments', ['comment_id'], ['id'],
                                    ondelete='CASCADE')
    op.execute(sa.text("DELETE FROM comments WHERE state = 'trash'"))
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_email_hash_state')
        batch_op.drop_index('ix_comments_ip_hash_state')
        batch_op.create_index('ix_comments_ip_hash', ['ip_hash'], unique=False)
        batch_op.drop_constraint(op.f('fk_comments_staff_id_moderators'), type_='foreignkey')
        batch_op.drop_column('staff_id')
        batch_op.drop_column('edited_at')
        batch_op.drop_constraint(op.f('ck_comments_state'), type_='check')
        batch_op.create_check_constraint(op.f('ck_comments_state'), sa.text(OLD_STATES))
