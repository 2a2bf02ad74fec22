"""WordPress's export (WXR, "WordPress eXtended RSS", versions 1.0 to 1.2): posts become threads, their comments
ours, read as a stream, one post at a time, so that a file of any size needs the memory of one post.

A thread's key is the post's slug (`wp:post_name`, what its address ends with, decoded), or `wordpress-ID`
(`--key id`, or a post without a slug); its title, address, date and whether it takes comments are the post's.
Only published posts are read: the comments of private, draft or password-protected ones are skipped and
counted. Each comment keeps its parent, author, email, website, IP, date (`wp:comment_date_gmt`, else the
site's local time read as UTC) and state: approved (1), pending (0) held for a person, spam, trash (trash and
post-trashed). Pingbacks and trackbacks are not comments: skipped, and counted in the summary.
"""
from datetime import datetime, timezone
from urllib.parse import unquote

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from .store import Incoming

SOURCE = "wordpress"
STATES = {"1": "approved", "approve": "approved", "0": "held", "hold": "held", "spam": "spam", "trash": "trash",
          "post-trashed": "trash"}
NOT_COMMENTS = ("pingback", "trackback")
NOT_POSTS = ("attachment", "nav_menu_item", "revision", "wp_block", "wp_navigation", "wp_template")
# Published, or (for old exports) no status at all; private, draft, pending, future and trashed posts are not public.
PUBLISHED = ("publish", "")
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


def read(stream, writer, key="slug", on_progress=lambda: None):
    """Every comment of every post in the export `stream` (a binary file), through `writer`; one commit a post.
    `key`: a thread's key is the post's slug, or "wordpress-" and its id."""
    site = {}
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
            if name in ("base_site_url", "base_blog_url") and _is_wp(element.tag):
                site.setdefault(name, (element.text or "").strip().rstrip("/"))
            elif name == "item":
                # A network's blogs share base_site_url and number their comments each from 1: the blog's own.
                _post(element, site.get("base_blog_url") or site.get("base_site_url", ""), key, writer)
                writer.commit()
                on_progress()
            if len(open_elements) == 2:  # a child of <channel>, read: it goes, so memory stays that of one post
                open_elements[-1].remove(element)
    except SyntaxError as error:  # ElementTree's ParseError: its message ends with the line and column
        raise BadExport(str(error)) from None
    except DefusedXmlException as error:
        raise BadExport(f"the file declares a DTD or entities ({type(error).__name__}), which a WordPress export "
                        "never does: it is not read") from None
    except (ValueError, LookupError) as error:  # an encoding the XML parser cannot read
        raise BadExport(f"the file cannot be read: {error}") from None
    if root is None:
        raise BadExport("the file is empty")


def _post(item, site, key_by, writer):
    post_id = _field(item, "post_id")
    post_type = _field(item, "post_type")
    comments = [child for child in item if _local(child.tag) == "comment" and _is_wp(child.tag)]
    if post_type in NOT_POSTS or not comments:
        return
    status, password = _field(item, "status"), _field(item, "post_password")
    if status not in PUBLISHED or password:
        writer.summary.skipped[f"comments of posts not public ({'password' if password else status})"] += len(
            comments)
        return
    slug = _field(item, "post_name")
    if key_by == "slug" and slug:
        key = unquote(slug)  # WordPress keeps a slug with other than ASCII letters percent-encoded
    elif post_id:
        key = f"wordpress-{post_id}"
    else:
        for comment in comments:
            writer.fail(_where(comment, post_id or "(no id)"), "its post has neither a slug nor an id")
        return
    title = _field(item, "title", wordpress=False) or key
    url = _field(item, "link", wordpress=False) or None
    thread, why = writer.thread(key, title, url, post_id=post_id, open_=_field(item, "comment_status") != "closed",
                                created_at=_date(_field(item, "post_date_gmt")))
    if thread is None:
        for comment in comments:
            writer.fail(_where(comment, post_id), f"its post's key {key[:60]!r} cannot be a thread's: {why}")
        return
    for comment in comments:
        _comment(comment, site, post_id or key, writer)


def _where(element, post):
    return f"comment {_field(element, 'comment_id') or '(no id)'} of post {post}"


def _comment(element, site, post, writer):
    comment_id = _field(element, "comment_id")
    where = _where(element, post)
    kind = _field(element, "comment_type") or "comment"
    summary = writer.summary
    if kind in NOT_COMMENTS:
        summary.skipped[f"{kind}s"] += 1
        return
    if kind not in ("comment", "review"):
        summary.skipped[f"entries of type {kind!r} (not comments)"] += 1
        return
    if not comment_id:
        writer.fail(where, "no wp:comment_id, so a second run could not tell it was imported")
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
        writer.fail(where, f"no date that can be read ({_field(element, 'comment_date_gmt')!r})")
        return
    parent = _field(element, "comment_parent")
    writer.add(Incoming(
        external_id=f"{site}#{comment_id}",
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
