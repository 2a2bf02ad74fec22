"""each comment's HTML made once, and a version per thread that changes with what its readers see

Revision ID: 0006_rendered_once
Revises: 0005_console
Create Date: 2026-11-29 23:00:00

"""

from alembic import op
import sqlalchemy as sa

from moderation.text import render_body


revision = '0006_rendered_once'
down_revision = '0005_console'
branch_labels = None
depends_on = None

BATCH = 2_000
# What a reader of a thread sees of a comment: a change to any of these, on a comment that is or was approved,
# is a new version of its thread (moderation/models.py, Thread.version).
SHOWN = ('state', 'thread_id', 'parent_id', 'author_name', 'author_url', 'body', 'body_html', 'created_at',
         'erased_at', 'staff_id')

# SQLite has one writer at a time: a trigger per row is simple and cannot deadlock.
SQLITE_TRIGGERS = (
    """CREATE TRIGGER comments_shown_insert AFTER INSERT ON comments WHEN NEW.state = 'approved'
       BEGIN UPDATE threads SET version = version + 1 WHERE id = NEW.thread_id; END""",
    f"""CREATE TRIGGER comments_shown_update AFTER UPDATE OF {', '.join(SHOWN)} ON comments
       WHEN OLD.state = 'approved' OR NEW.state = 'approved'
       BEGIN UPDATE threads SET version = version + 1 WHERE id IN (OLD.thread_id, NEW.thread_id); END""",
    """CREATE TRIGGER comments_shown_delete AFTER DELETE ON comments WHEN OLD.state = 'approved'
       BEGIN UPDATE threads SET version = version + 1 WHERE id = OLD.thread_id; END""",
)

# On PostgreSQL, once per statement, from its transition tables: the threads a statement changed are locked in the
# order of their ids, so that two moderators approving across the same threads at once wait, never deadlock. The
# lock is the one the UPDATE takes anyway (not FOR UPDATE, which would also make a reader's post wait on it).
_BUMP = """
  IF changed IS NOT NULL THEN
    PERFORM 1 FROM threads WHERE id = ANY(changed) ORDER BY id FOR NO KEY UPDATE;
    UPDATE threads SET version = version + 1 WHERE id = ANY(changed);
  END IF;
  RETURN NULL;
END $$"""
_OLD = ', '.join(f'o.{column}' for column in SHOWN)
_NEW = ', '.join(f'n.{column}' for column in SHOWN)
POSTGRESQL_FUNCTIONS = {
    'comments_shown_inserted': """DECLARE changed integer[];
BEGIN
  SELECT array_agg(DISTINCT thread_id) INTO changed FROM new_rows WHERE state = 'approved';""" + _BUMP,
    'comments_shown_updated': f"""DECLARE changed integer[];
BEGIN
  SELECT array_agg(DISTINCT touched) INTO changed FROM (
    SELECT unnest(ARRAY[o.thread_id, n.thread_id]) AS touched FROM old_rows o JOIN new_rows n ON n.id = o.id
    WHERE (o.state = 'approved' OR n.state = 'approved') AND ({_OLD}) IS DISTINCT FROM ({_NEW})) AS rows;""" + _BUMP,
    'comments_shown_deleted': """DECLARE changed integer[];
BEGIN
  SELECT array_agg(DISTINCT thread_id) INTO changed FROM old_rows WHERE state = 'approved';""" + _BUMP,
}
POSTGRESQL_TRIGGERS = (
    """CREATE TRIGGER comments_shown_insert AFTER INSERT ON comments REFERENCING NEW TABLE AS new_rows
       FOR EACH STATEMENT EXECUTE FUNCTION comments_shown_inserted()""",
    """CREATE TRIGGER comments_shown_update AFTER UPDATE ON comments REFERENCING OLD TABLE AS old_rows
       NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION comments_shown_updated()""",
    """CREATE TRIGGER comments_shown_delete AFTER DELETE ON comments REFERENCING OLD TABLE AS old_rows
       FOR EACH STATEMENT EXECUTE FUNCTION comments_shown_deleted()""",
)
TRIGGERS = ('comments_shown_insert', 'comments_shown_update', 'comments_shown_delete')


def _render_every_comment():
    """Each comment's HTML as the reader's pages show it, made from its text once, here, in batches."""
    bind = op.get_bind()
    comments = sa.table('comments', sa.column('id', sa.Integer), sa.column('body', sa.Text),
                        sa.column('body_html', sa.Text))
    last = 0
    while True:
        rows = bind.execute(sa.select(comments.c.id, comments.c.body).where(comments.c.id > last)
                            .order_by(comments.c.id).limit(BATCH)).all()
        if not rows:
            return
        bind.execute(comments.update().where(comments.c.id == sa.bindparam('row_id'))
                     .values(body_html=sa.bindparam('html')),
                     [{'row_id': row.id, 'html': str(render_body(row.body))} for row in rows])
        last = rows[-1].id


def upgrade():
    with op.batch_alter_table('threads') as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('comments') as batch_op:
        batch_op.add_column(sa.Column('body_html', sa.Text(), nullable=True))
    _render_every_comment()
    if op.get_bind().dialect.name == 'postgresql':
        for name, body in POSTGRESQL_FUNCTIONS.items():
            op.execute(f'CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n{body}')
        for trigger in POSTGRESQL_TRIGGERS:
            op.execute(trigger)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    for trigger in TRIGGERS:
        op.execute(f'DROP TRIGGER IF EXISTS {trigger}' + (' ON comments' if postgresql else ''))
    if postgresql:
        for name in POSTGRESQL_FUNCTIONS:
            op.execute(f'DROP FUNCTION IF EXISTS {name}()')
    with op.batch_alter_table('comments') as batch_op:
        batch_op.drop_column('body_html')
    with op.batch_alter_table('threads') as batch_op:
        batch_op.drop_column('version')
