"""What every reader of a thread is shown, made once per version of the thread and kept in this process.

A thread's version (`Thread.version`) changes, by the database's own triggers, whenever anything its
readers see changes; it is read with the thread on every request. So what is kept here is never stale,
whichever process or machine made the change, and nothing has to be told to forget anything: a new
version is a new key, and old ones fall out of the least-recently-used cache. A reader with comments of
their own awaiting moderation is shown those too: their page is made for them alone, never kept.
"""
import sys
import threading

from cachetools import LRUCache
from flask import current_app

from ..extensions import db

# Per process. A 500-comment thread page is about 400 KB of HTML; its JSON about 250 KB.
KEPT_BYTES = 64 * 1024 * 1024

# What the text or bytes take in memory (a str of accented or emoji text takes 2 or 4 bytes a character).
_kept = LRUCache(maxsize=KEPT_BYTES, getsizeof=lambda value: sys.getsizeof(value[0]) + 200)
_lock = threading.Lock()


def thread_key(thread, *rest):
    """What identifies what a thread's readers see: the database, the thread (a deleted thread's id may be used
    again on SQLite, never with the same creation time) and its version, then whatever else the answer depends on."""
    return (str(db.engine.url), current_app.name, thread.id, thread.key, thread.created_at, thread.version, *rest)


def kept(key, make):
    """The value kept under `key`, or `make()`'s, kept. `make` returns a tuple whose first item is the text or
    bytes that costs memory. Two requests missing at once both make it; the second one's is kept."""
    with _lock:
        value = _kept.get(key)
    if value is None:
        value = make()
        with _lock:
            try:
                _kept[key] = value
            except ValueError:  # bigger than everything this process keeps: served, not kept
                pass
    return value

