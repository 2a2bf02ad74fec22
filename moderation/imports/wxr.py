"""WordPress's export (WXR, "WordPress eXtended RSS", versions 1.0 to 1.2): posts become threads, their comments
ours, read as a stream, one post at a time, so that a file of any size needs the memory of one post.

A thread's key is the post's slug (`wp:post_name`, what its address ends with), or `wordpress-ID` for a post
without one; its title and address are the post's. Each comment keeps its parent, author, email, website, IP,
date (`wp:comment_date_gmt`, else the site's local time read as UTC) and state: approved (1), pending (0) held
for a person, spam, trash (trash and post-trashed). Pingbacks and trackbacks are not comments: skipped, and
counted in the summary.
"""
from datetime import datetime, timezone

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from .store import Incoming

SOURCE = "wordpress"
STATES = {"1": "approved", "approve": "approved", "0": "held", "hold": "held", "spam": "spam", "trash": "trash",
          "post-trashed": "trash"}
NOT_COMMENTS = ("pingback", "trackback")
NO_DATE = "0000-00-00 00:00:00"


class BadExport(Exception):
    """The file is not a WordPress export, or stops in the middle: where, and what."""


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _is_wp(tag):
    return tag.startswith("{http://wordpress.org/export/")


def _field(element, name, wordpress=True):
    for child in element:
        if _local(child.tag) == name and (_is_wp(child.tag) or not wordpress):
            return (child.text or "").strip()
    return ""


def read(stream, writer, on_progress=lambda: None):
    """Every comment of every post in the export `stream` (a binary file), through `writer`; one commit a post."""
    site = ""
    parsed = iterparse(stream, events=("start", "end"), forbid_dtd=True)
    root, open_elements = None, []
    try:
        for event, element in parsed:
            if event == "start":
                if root is None:
                    root = element
                    if _local(root.tag) != "rss":
                        raise BadExport(f"this is not a WordPress export: it starts with <{_local(root.tag)}>, "
                                        "not <rss>")
                open_elements.append(element)
                continue
            open_elements.pop()
            name = _local(element.tag)
            if name in ("base_site_url", "base_blog_url") and _is_wp(element.tag) and not site:
                site = (element.text or "").strip().rstrip("/")
            elif name == "item":
                _post(element, site, writer)
                writer.commit()
                if open_elements:
                    open_elements[-1].remove(element)  # read and written: memory stays that of one post
                on_progress()
    except BadExport:
        raise
    except SyntaxError as error:  # ElementTree's ParseError, and defusedxml's refusals (a DTD, an entity)
        line, column = getattr(error, "position", (None, None))
        where = f"line {line}, column {column}: " if line else ""
        raise BadExport(f"{where}{error.msg if hasattr(error, 'msg') else error}") from None
    except DefusedXmlException as error:
        raise BadExport(f"the file declares a DTD or entities ({type(error).__name__}), which a WordPress export "
                        "never does: it is not read") from None
    if root is None:
        raise BadExport("the file is empty")


def _post(item, site, writer):
    post_id = _field(item, "post_id")
    post_type = _field(item, "post_type")
    if post_type in ("attachment", "nav_menu_item", "revision"):
        return
    key = _field(item, "post_name") or f"wordpress-{post_id or 'unknown'}"
    title = _field(item, "title", wordpress=False) or key
    url = _field(item, "link", wordpress=False) or None
    for comment in item:
        if _local(comment.tag) == "comment" and _is_wp(comment.tag):
            _comment(comment, site, post_id, key, title, url, writer)


def _comment(element, site, post_id, key, title, url, writer):
    comment_id = _field(element, "comment_id")
    where = f"comment {comment_id or '(no id)'} of post {post_id or key}"
    kind = _field(element, "comment_type") or "comment"
    summary = writer.summary
    if kind in NOT_COMMENTS:
        summary.skipped[f"{kind}s"] += 1
        return
    if kind not in ("comment", "review"):
        summary.skipped[f"entries of type {kind!r} (not comments)"] += 1
        return
    if not comment_id:
        summary.failed.append((where, "no wp:comment_id, so a second run could not tell it was imported"))
        return
    raw_state = _field(element, "comment_approved")
    state = STATES.get(raw_state)
    if state is None:
        summary.notes[f"comments in the unknown state {raw_state!r}, held for a person"] += 1
        state = "held"
    created = _date(_field(element, "comment_date_gmt"))
    if created is None:
        created = _date(_field(element, "comment_date"))
        if created is not None:
            summary.notes["dates in the site's own time only (no GMT date), read as UTC"] += 1
    if created is None:
        summary.failed.append((where, f"no date that can be read ({_field(element, 'comment_date_gmt')!r})"))
        return
    parent = _field(element, "comment_parent")
    writer.add(Incoming(
        external_id=f"{site}#{comment_id}", thread_key=key, thread_title=title, thread_url=url,
        parent_external_id=f"{site}#{parent}" if parent and parent != "0" else None,
        author_name=_field(element, "comment_author"), author_email=_field(element, "comment_author_email"),
        author_url=_field(element, "comment_author_url"), author_ip=_field(element, "comment_author_IP"),
        created_at=created, state=state, body=_field(element, "comment_content"),
    ), where)


def _date(text):
    if not text or text == NO_DATE:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
