"""personal data encrypted at rest, blind indexes, moderator sessions, privacy events, posting gates

Revision ID: 0003_private_by_design
Revises: 0002_spam_learning
Create Date: 2026-11-29 14:30:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0003_private_by_design'
down_revision = '0002_spam_learning'
branch_labels = None
depends_on = None

SEALED = (('author_email', 'email'), ('author_ip', 'ip'), ('user_agent', 'user agent'), ('referrer', 'referrer'),
          ('akismet_payload', 'akismet payload'))


def upgrade():
    op.create_table('moderator_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('moderator_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['moderator_id'], ['moderators.id'], name=op.f('fk_moderator_sessions_moderator_id_moderators'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderator_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_moderator_sessions_token_hash'))
    )
    op.create_index(op.f('ix_moderator_sessions_moderator_id'), 'moderator_sessions', ['moderator_id'], unique=False)
    op.create_table('privacy_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor', sa.String(length=80), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_privacy_events_comment_id_comments'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_events'))
    )
    op.create_table('posting_gates',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('last_post_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_posting_gates'))
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_email_created')
        batch_op.drop_index('ix_comments_ip_created')
        batch_op.add_column(sa.Column('email_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('ip_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('reader_hash', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        for column, _ in SEALED:
            batch_op.alter_column(column, type_=sa.Text(), nullable=True, postgresql_using=f'{column}::text')
        batch_op.create_index('ix_comments_email_hash_created', ['email_hash', 'created_at'], unique=False)
        batch_op.create_index('ix_comments_ip_hash', ['ip_hash'], unique=False)
        batch_op.create_index('ix_comments_purged_created', ['purged_at', 'created_at'], unique=False)
    _seal_existing_rows()


def _seal_existing_rows():
    """Encrypt what earlier versions stored in clear, and index it."""
    from moderation.privacy.crypto import keyring, normal_email
    from moderation.privacy.addresses import normal_ip

    keys = keyring()
    connection = op.get_bind()
    columns = ', '.join(column for column, _ in SEALED)
    for row in connection.execute(sa.text(f'SELECT id, {columns} FROM comments')).mappings().all():
        values = {column: None if row[column] is None else keys.encrypt(str(row[column]), purpose)
                  for column, purpose in SEALED}
        email, ip = row['author_email'], normal_ip(row['author_ip'])
        values['email_hash'] = keys.index(normal_email(email), 'email') if email else None
        values['ip_hash'] = keys.index(ip, 'ip') if ip else None
        assignments = ', '.join(f'{name} = :{name}' for name in values)
        connection.execute(sa.text(f'UPDATE comments SET {assignments} WHERE id = :id'), {**values, 'id': row['id']})


def downgrade():
    from moderation.privacy.crypto import keyring

    keys = keyring()
    connection = op.get_bind()
    columns = ', '.join(column for column, _ in SEALED)
    for row in connection.execute(sa.text(f'SELECT id, {columns} FROM comments')).mappings().all():
        values = {column: None if row[column] is None else keys.decrypt(row[column], purpose)
                  for column, purpose in SEALED}
        connection.execute(sa.text(f"UPDATE comments SET {', '.join(f'{c} = :{c}' for c in values)} WHERE id = :id"),
                           {**values, 'author_email': values['author_email'] or '', 'id': row['id']})
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_index('ix_comments_purged_created')
        batch_op.drop_index('ix_comments_ip_hash')
        batch_op.drop_index('ix_comments_email_hash_created')
        batch_op.alter_column('akismet_payload', type_=sa.JSON(), postgresql_using='akismet_payload::json')
        batch_op.alter_column('referrer', type_=sa.String(length=2000))
        batch_op.alter_column('user_agent', type_=sa.String(length=500))
        batch_op.alter_column('author_ip', type_=sa.String(length=45))
        batch_op.alter_column('author_email', type_=sa.String(length=320), nullable=False)
        batch_op.drop_column('erased_at')
        batch_op.drop_column('purged_at')
        batch_op.drop_column('reader_hash')
        batch_op.drop_column('ip_hash')
        batch_op.drop_column('email_hash')
        batch_op.create_index('ix_comments_ip_created', ['author_ip', 'created_at'], unique=False)
        batch_op.create_index('ix_comments_email_created', ['author_email', 'created_at'], unique=False)
    op.drop_table('posting_gates')
    op.drop_table('privacy_events')
    op.drop_index(op.f('ix_moderator_sessions_moderator_id'), table_name='moderator_sessions')
    op.drop_table('moderator_sessions')
