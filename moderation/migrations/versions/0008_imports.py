"""comments brought from another system, each remembered by its id there, so that an import run twice adds nothing

Revision ID: 0008_imports
Revises: 0007_followups
Create Date: 2026-11-30 06:00:00

"""

from alembic import op
import sqlalchemy as sa


revision = '0008_imports'
down_revision = '0007_followups'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'imported',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('source', sa.String(40), nullable=False),
        sa.Column('external_id', sa.String(300), nullable=False),
        # A comment deleted here keeps its row, so that importing the same file again does not bring it back.
        sa.Column('comment_id', sa.Integer(), sa.ForeignKey('comments.id', ondelete='SET NULL'), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint('source', 'external_id', name='uq_imported_source_external_id'),
    )
    op.create_index('ix_imported_comment_id', 'imported', ['comment_id'])


def downgrade():
    op.drop_index('ix_imported_comment_id', table_name='imported')
    op.drop_table('imported')
