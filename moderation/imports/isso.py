"""Isso's SQLite database (`isso.db`, Isso 0.10 and later): its threads become threads, its comments ours.

The file is opened read-only (never changed, even by SQLite's own journal) and checked whole by SQLite before
anything is written; then it is read one thread at a time, one commit a thread, so memory holds one thread.

Isso names a thread by its page's path (`/blog/hello-world/`); a key has no '/', so a thread's key is that path as
the Isso-compatible endpoints name it (`isso.uris.key_for`: '/' and '%' percent-encoded, `%2Fblog%2Fhello-world%2F`),
so that Isso's own client, pointed at them, finds the imported threads. Each comment keeps its parent, author,
email, website, IP (Isso keeps only its network already), date, whether its author asked for replies by email, and
state: accepted (1) approved, waiting (2) held, deleted (4, kept by Isso with no text for its replies) trash.
Isso's text is Markdown as its author typed it: kept so, less any HTML tags in it.
"""
import hashlib
import html
import os
import sqlite3
from datetime import datetime, timezone
from urllib.parse import quote

from ..isso.uris import key_for
from .store import Incoming

SOURCE = "isso"
MODES = {1: "approved", 2: "held", 4: "trash"}
THREAD_COLUMNS = {"id", "uri", "title"}
COMMENT_COLUMNS = {"tid", "id", "parent", "created", "mode", "remote_addr", "text", "author", "email", "website"}
KEYED = ("threads keyed by their path percent-encoded, as Isso's client asks the Isso-compatible endpoints for "
         "them (/blog/hello-world/ is %2Fblog%2Fhello-world%2F)")
NO_ADDRESS = "0.0.0.0"  # what Isso stores when it had no address to keep
MEND = "import a good copy, or one that `sqlite3 FILE .recover` made"
WAIT_SECONDS = 5  # for Isso to finish a write it holds the database for
COMMENTS = ("SELECT id, parent, created, mode, remote_addr, text, author, email, website, {notification} "
            "FROM comments WHERE tid = ? ORDER BY id")


class BadExport(Exception):
    """The file is not an Isso database, or cannot be read: what, in a sentence."""


def connect(path):
    """The database at `path`, opened read-only and checked, and how many threads it has; BadExport says why not."""
    try:
        connection = sqlite3.connect(f"file:{quote(os.path.abspath(path))}?mode=ro", uri=True, timeout=WAIT_SECONDS)
    except sqlite3.DatabaseError as error:
        raise BadExport(_sentence(error)) from None
    try:
        return connection, _checked(connection)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise BadExport(_sentence(error)) from None
    except BadExport:
        connection.close()
        raise


def _checked(connection):
    """SQLite's own check of every page, then Isso's tables; how many threads."""
    damage = connection.execute("PRAGMA quick_check").fetchone()[0]
    if damage != "ok":
        found = " ".join(line for line in damage.splitlines() if not line.startswith("***"))[:200]
        raise BadExport(f"the database is damaged (SQLite finds: {found}); {MEND}")
    for table, needed in (("threads", THREAD_COLUMNS), ("comments", COMMENT_COLUMNS)):
        columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if not needed <= columns:
            raise BadExport(f"this is not an Isso database: it has no {table} table with the columns "
                            f"{', '.join(sorted(needed))}")
    return connection.execute("SELECT COUNT(*) FROM threads").fetchone()[0]


def _sentence(error):
    text = str(error)
    if "locked" in text or "busy" in text:
        return (f"the database is locked ({text}): Isso may be writing to it; try again, or import a copy made "
                "with `sqlite3 FILE '.backup copy.db'`")
    if "malformed" in text:
        return f"the database is damaged ({text}); {MEND}"
    if "not a database" in text:
        return f"this is not an Isso database: SQLite cannot read it ({text})"
    return f"the database cannot be read: {text}"


def read(connection, writer, site=None, on_progress=lambda: None):
    """Every comment of every thread of the Isso database, through `writer`; one commit a thread. `site`: the
    address the threads' paths are on (https://blog.example.org), for their addresses here."""
    try:
        database = _identity(connection) or _site_identity(site)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(comments)")}
        query = COMMENTS.format(notification="notification" if "notification" in columns else "0")
        stray = connection.execute("SELECT COUNT(*) FROM comments WHERE tid NOT IN (SELECT id FROM threads)"
                                   ).fetchone()[0]
        if stray:
            writer.summary.skipped["comments whose thread is not in the database"] += stray
        # Each read ends before the next begins: Isso, if it runs, may write between two threads.
        for (tid,) in connection.execute("SELECT id FROM threads ORDER BY id").fetchall():
            thread = connection.execute("SELECT uri, title FROM threads WHERE id = ?", (tid,)).fetchone()
            rows = connection.execute(query, (tid,)).fetchall() if thread else []
            if rows:
                _thread(database, _str(thread[0]), thread[1], rows, site, writer)
                writer.commit()
            on_progress()
    except sqlite3.DatabaseError as error:
        raise BadExport(_sentence(error)) from None


def _identity(connection):
    """What tells this Isso database from another (two sites' comment ids are both 1, 2, 3...): a hash of the
    session key Isso made for it when it was created, never the key itself (it signs Isso's cookies)."""
    try:
        row = connection.execute("SELECT value FROM preferences WHERE key = 'session-key'").fetchone()
    except sqlite3.DatabaseError:
        row = None
    return hashlib.sha256(str(row[0]).encode()).hexdigest()[:16] if row and row[0] else ""


def _site_identity(site):
    """For a database without a session key (Isso writes one on its first start; one made by hand may have none):
    the site it belongs to, given with --site, tells it from another's."""
    if not site:
        raise BadExport("the database has no session key (Isso writes one when it first starts), so nothing tells "
                        "its comments from another Isso database's; run the import again with --site and the "
                        "address of the site it belongs to")
    return "site:" + hashlib.sha256(site.rstrip("/").lower().encode()).hexdigest()[:16]


def _thread(database, uri, title, rows, site, writer):
    key = key_for(uri)
    dates = [date for date in (_date(row[2]) for row in rows) if date is not None]
    url = site.rstrip("/") + uri if site and uri.startswith("/") else None
    thread, why = writer.thread(key, title or uri, url, post_id=uri, open_=True,
                                created_at=min(dates) if dates else None)
    if thread is None:
        for row in rows:
            writer.fail(f"comment {row[0]} of {uri[:60]!r}", f"its thread's uri cannot be a key: {why}")
        return
    if key != uri:
        writer.summary.notes[KEYED] += 1
    for row in rows:
        _comment(database, uri, row, writer)


def _comment(database, uri, row, writer):
    comment_id, parent, created, mode, address, text, author, email, website, notification = row
    where = f"comment {comment_id} of {uri[:60]!r}"
    date = _date(created)
    if date is None:
        writer.fail(where, f"no date that can be read ({str(created)[:40]!r})")
        return
    state = MODES.get(mode)
    if state is None:
        writer.summary.notes[f"comments in the unknown mode {str(mode)[:20]!r}, held for a person"] += 1
        state = "held"
    writer.add(Incoming(
        external_id=f"{database}#{comment_id}", parent_external_id=f"{database}#{parent}" if parent else None,
        # Isso keeps the name, email and website HTML-escaped as it was sent; the store reads names and websites so.
        author_name=_str(author), author_email=html.unescape(_str(email)), author_url=_str(website),
        author_ip=None if address == NO_ADDRESS else _str(address), created_at=date, state=state,
        body=_str(text), notify_replies=notification == 1,
    ), where)


def _str(value):
    """A text column as text: bytes (SQLite lets any column hold a BLOB) read as UTF-8, what is not UTF-8 replaced."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else ("" if value is None else str(value))


def _date(value):
    """Isso's `created`: seconds since 1970 (a REAL); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
