"""spam settings, models and training examples

Revision ID: 0002_spam_learning
Revises: 0001_initial
Create Date: 2026-11-27 12:19:38.247792

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002_spam_learning'
down_revision = '0001_initial'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('settings',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_settings'))
    )
    op.create_table('spam_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('examples', sa.Integer(), nullable=False),
    sa.Column('spam_examples', sa.Integer(), nullable=False),
    sa.Column('last_example_id', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_spam_models'))
    )
    op.create_table('training_examples',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('comment_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('is_spam', sa.Boolean(), nullable=False),
    sa.Column('weight', sa.Double(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['comment_id'], ['comments.id'], name=op.f('fk_training_examples_comment_id_comments'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_training_examples')),
    sa.UniqueConstraint('comment_id', name=op.f('uq_training_examples_comment_id'))
    )
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('form_seconds', sa.Double(), nullable=True))
        batch_op.add_column(sa.Column('referrer', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('akismet_payload', sa.JSON(), nullable=True))



def downgrade():
    with op.batch_alter_table('comments', schema=None) as batch_op:
        batch_op.drop_column('akismet_payload')
        batch_op.drop_column('referrer')
        batch_op.drop_column('form_seconds')

    op.drop_table('training_examples')
    op.drop_table('spam_models')
    op.drop_table('settings')
