"""Disqus's export (the XML file Disqus emails a site's owner): its threads become threads, its posts our comments.

The file holds every thread first, then every post in no thread's order, so it is read twice as a stream: once
whole, keeping what each thread's posts need (its key, title, address, forum: one small record a thread) and
checking that the file is whole, so that a file cut short or broken writes nothing, not half of many threads;
then once more for the posts, one at a time, so that memory holds the threads and one post, never the file.

A thread's key is its identifier (`<id>`, the `disqus_identifier` the site's pages gave Disqus) when that can be
a key, else the path of its address (`<link>`, see `path_key`); `--key link` takes the path first. Each
post keeps its parent, author's name (or username), email, IP, date and state: approved; spam (`isSpam`); trash
(`isDeleted`); held (`isApproved` false, in newer exports). Posts of a deleted thread are skipped and counted.
"""
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ..comments.services import check_key
from .store import KEY, Incoming

SOURCE = "disqus"
DSQ_ID = "{http://disqus.com/disqus-internals}id"
FLAGS = {"true": True, "false": False, "1": True, "0": False}
BATCH = 100  # posts a commit: the file was checked whole, so a commit need not wait for a thread's end
HOME = "index"  # the key of a site's home page, whose path is "/"
KEYED_BY = {"identifier": "threads keyed by their Disqus identifier",
            "address": "threads keyed by their address's path ('/' read as '-')"}


class BadExport(Exception):
    """The file is not a Disqus export, or stops in the middle: where, and what."""


@dataclass(slots=True)
class Page:
    """What a thread's posts need of it; kept for every thread of the file while its posts are read."""

    key: str | None
    keyed_by: str
    title: str
    url: str | None
    open_: bool
    created_at: datetime | None
    forum: str
    deleted: bool


def read_threads(stream, key="identifier", on_progress=lambda: None):
    """Every thread of the export `stream` (a binary file) by its dsq:id, the whole file read to check it; nothing
    is written. `key`: "identifier" (else the address's path) or "link" (the path, else the identifier)."""
    pages = {}
    for element in _children(stream, on_progress):
        if _local(element.tag) == "thread" and element.get(DSQ_ID):
            pages.setdefault(element.get(DSQ_ID), _page(element, key))
    return pages


def read_posts(stream, pages, writer, on_progress=lambda: None):
    """Every post of the export `stream`, read again from its start, through `writer`; `pages` from read_threads."""
    entered, read = {}, 0
    for element in _children(stream, on_progress):
        if _local(element.tag) == "post":
            _post(element, pages, entered, writer)
            read += 1
            if read % BATCH == 0:
                writer.commit()
    writer.commit()


def _children(stream, on_progress):
    """Each child of <disqus>, once read whole; dropped when the next is read, so memory holds one."""
    parsed = iterparse(stream, events=("start", "end"), forbid_dtd=True)
    root, depth = None, 0
    try:
        for event, element in parsed:
            if event == "start":
                if root is None:
                    root = element
                    if _local(root.tag) != "disqus":
                        raise BadExport(f"this is not a Disqus export: it starts with <{_local(root.tag)}>, "
                                        "not <disqus>")
                depth += 1
                continue
            depth -= 1
            if depth == 1:
                yield element
                root.remove(element)
                on_progress()
    except SyntaxError as error:  # ElementTree's ParseError: its message ends with the line and column
        raise BadExport(str(error)) from None
    except DefusedXmlException as error:
        raise BadExport(f"the file declares a DTD or entities ({type(error).__name__}), which a Disqus export "
                        "never does: it is not read") from None
    except (ValueError, LookupError) as error:  # an encoding the XML parser cannot read
        raise BadExport(f"the file cannot be read: {error}") from None


def _local(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _child(element, name):
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element, name):
    child = _child(element, name) if element is not None else None
    return (child.text or "").strip() if child is not None else ""


def _page(element, key_by):
    identifier, link = _text(element, "id"), _text(element, "link")
    by_identifier = identifier if _can_be_key(identifier) else None
    by_address = path_key(link) if link else None
    if key_by == "identifier":
        key, keyed_by = (by_identifier, "identifier") if by_identifier else (by_address, "address")
    else:
        key, keyed_by = (by_address, "address") if by_address else (by_identifier, "identifier")
    closed = FLAGS.get(_text(element, "isClosed").lower(), False)
    return Page(key=key, keyed_by=keyed_by, title=_text(element, "title")[:300] or (key or ""),
                url=link if link.lower().startswith(("http://", "https://")) else None, open_=not closed,
                created_at=_date(_text(element, "createdAt")), forum=_text(element, "forum"),
                deleted=FLAGS.get(_text(element, "isDeleted").lower(), False))


def path_key(address):
    """A thread's key from a page's address (a key has no '/'): its path and query, decoded, without the slashes
    around it and with '-' for each one inside; the home page is "index". So
    `https://blog.example.org/2013/04/hello-world/` is `2013-04-hello-world`, as a slug reads, and `/?p=12` is
    `?p=12`."""
    parts = urlsplit(address.strip())
    path = unquote(parts.path).strip("/")
    if parts.query:
        path += "?" + unquote(parts.query)
    return path.replace("/", "-") or HOME


def _can_be_key(identifier):
    try:
        check_key(identifier)
    except ValueError:
        return False
    return len(identifier) <= KEY


def _post(element, pages, entered, writer):
    post_id = element.get(DSQ_ID) or ""
    reference = _child(element, "thread")
    thread_id = reference.get(DSQ_ID, "") if reference is not None else ""
    where = f"post {post_id or '(no dsq:id)'} of thread {thread_id or '(none)'}"
    if not post_id:
        writer.fail(where, "no dsq:id, so a second run could not tell it was imported")
        return
    page = pages.get(thread_id)
    if page is None:
        writer.fail(where, "its thread is not in the file")
        return
    if page.deleted:
        writer.summary.skipped["comments of threads deleted in Disqus"] += 1
        return
    why = _enter(page, thread_id, entered, writer)
    if why:
        writer.fail(where, why)
        return
    created = _date(_text(element, "createdAt"))
    if created is None:
        writer.fail(where, f"no date that can be read ({_text(element, 'createdAt')!r})")
        return
    author, parent = _child(element, "author"), _child(element, "parent")
    parent_id = parent.get(DSQ_ID, "") if parent is not None else ""
    writer.add(Incoming(
        external_id=f"{page.forum}#{post_id}",
        parent_external_id=f"{page.forum}#{parent_id}" if parent_id else None,
        author_name=_text(author, "name") or _text(author, "username"), author_email=_text(author, "email"),
        author_url=None, author_ip=_text(element, "ipAddress"), created_at=created,
        state=_state(element, writer.summary), body=_text(element, "message"),
    ), where)


def _enter(page, thread_id, entered, writer):
    """Make the post's thread the writer's: found or made the first time, entered again after. Why not, or None."""
    known = entered.get(thread_id)
    if isinstance(known, str):
        return known
    if known is not None:
        if writer.current is None or writer.current.id != known:
            writer.enter(known)
        return None
    if not page.key:
        entered[thread_id] = "its thread has neither an identifier that can be a key nor an address"
        return entered[thread_id]
    thread, why = writer.thread(page.key, page.title, page.url, post_id=thread_id, open_=page.open_,
                                created_at=page.created_at)
    if thread is None:
        entered[thread_id] = f"its thread's key {page.key[:60]!r} cannot be a thread's: {why}"
        return entered[thread_id]
    writer.summary.notes[KEYED_BY[page.keyed_by]] += 1
    entered[thread_id] = thread.id
    return None


def _state(element, summary):
    """Spam, else deleted (trash), else not approved (held), else approved; a flag neither true nor false is held."""
    flags = {}
    for name in ("isSpam", "isDeleted", "isApproved"):
        raw = _text(element, name)
        flags[name] = FLAGS.get(raw.lower()) if raw else None
        if raw and flags[name] is None:
            summary.notes[f"comments in the unknown state {name}={raw[:40]!r}, held for a person"] += 1
            return "held"
    if flags["isSpam"]:
        return "spam"
    if flags["isDeleted"]:
        return "trash"
    return "held" if flags["isApproved"] is False else "approved"


def _date(text):
    """`2013-04-01T10:20:30Z` (and any ISO 8601 date), in UTC; None for anything else."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
