"""The public API's requests and answers, as models: the views validate with them and the OpenAPI document
is generated from them, so the document cannot drift from what the service does."""
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..ids import MAX_ID

PAGE_DEFAULT = 50
PAGE_MAX = 200
COUNTS_MAX = 50


class ThreadPage(BaseModel):
    """Which top-level comments to answer with: `limit` of them, after the one whose id is `after`."""

    model_config = ConfigDict(extra="ignore")
    limit: int | None = Field(None, ge=1, le=PAGE_MAX, description="top-level comments per page; by default the "
                                                                 f"site's comments-per-page setting, else {PAGE_DEFAULT}")
    after: int | None = Field(None, ge=1, le=MAX_ID, description="the id of the last top-level comment of the "
                                                                  "previous page (the `next` link carries it)")


class PublicComment(BaseModel):
    """An approved comment as anyone may see it: never an email, an IP or a token."""

    id: int
    parent_id: int | None
    author_name: str
    author_url: str | None
    avatar: str = Field(description="address of the author's avatar image")
    body: str = Field(description="the text as the author wrote it")
    html: str = Field(description="the text as safe HTML: paragraphs, line breaks and links (rel=nofollow ugc)")
    created_at: str = Field(description="ISO 8601, UTC")
    permalink: str | None = Field(description="the comment on the article's own page, when the thread has a url")
    awaiting_moderation: bool = Field(False, description="true only on the author's own comment not yet approved, "
                                                         "shown to them alone (see X-Author-Token)")
    staff: bool = Field(False, description="true on a reply written by one of the site's moderators")
    replies: list["PublicComment"] = Field(default_factory=list, description="replies, oldest first, nested")


class Thread(BaseModel):
    thread: str = Field(description="the thread's key")
    title: str | None = Field(description="null for a thread nobody has commented on yet")
    url: str | None
    comments_open: bool
    replies_open: bool = Field(True, description="false when the site takes no replies to comments (a reply depth of 1)")
    email_notifications: bool = Field(False, description="true when this service can email commenters: only then "
                                                         "offer `notify_replies` and `notify_approval`")
    total: int = Field(description="comments in the whole thread, replies included: the approved ones, and with "
                                   "X-Author-Token the author's own awaiting moderation")
    comments: list[PublicComment] = Field(description="this page's top-level comments, each with its replies")
    next: str | None = Field(description="the address of the next page, or null on the last one")


class CountsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    thread: list[str] = Field(min_length=1, max_length=COUNTS_MAX, description="thread keys, repeated")


class Counts(BaseModel):
    counts: dict[str, int] = Field(description="approved comments per thread key asked for; 0 for unknown keys")


class Problem(BaseModel):
    error: str = Field(description="what went wrong, in a sentence")


class FieldErrors(Problem):
    fields: dict[str, str] = Field(description="field name: why its value was refused")


class FormToken(BaseModel):
    token: str = Field(description="send it back as `form_token` with the comment")
    max_age: int = Field(description="seconds the token stays good; after that, ask for a new one")


class NewComment(BaseModel):
    """What the reader typed, with the same fields and rules as the "Leave a Reply" form."""

    model_config = ConfigDict(extra="ignore")
    author_name: str = Field(max_length=100_000)
    author_email: str = Field(max_length=100_000)
    author_url: str | None = Field(None, max_length=100_000)
    body: str = Field(max_length=100_000)
    parent_id: int | None = Field(None, ge=1, le=MAX_ID, description="the approved comment this one replies to")
    form_token: str = Field(max_length=1_000, description="from GET /api/v1/threads/{key}/form")
    comment_check: str = Field("", max_length=100_000, description="leave empty: a field only robots fill in")
    title: str | None = Field(None, max_length=10_000, description="the article's title, used when this first comment "
                                                                    "creates the thread (cut to 300 characters)")
    url: str | None = Field(None, max_length=10_000, description="the article's address, on the posting site (its "
                                                                  "query and fragment are never kept)")
    notify_replies: bool = Field(False, description="email the author of each approved reply to this comment, once "
                                                    "their address is confirmed (the first email asks to confirm it)")
    notify_approval: bool = Field(False, description="email the author when this comment is approved, once their "
                                                     "address is confirmed")

    @field_validator("parent_id", mode="before")
    @classmethod
    def no_parent(cls, value):
        """An empty value, as an HTML form's hidden field sends it, means "not a reply"."""
        return None if value == "" else value


class OwnComment(BaseModel):
    id: int
    parent_id: int | None
    state: str = Field(description="`pending` right after posting: only its author sees it, until a moderator decides")
    author_name: str
    author_url: str | None
    body: str
    html: str
    created_at: str


class Posted(BaseModel):
    comment: OwnComment
    author_token: str = Field(description="keep it (the widget keeps it in the page's own storage) and send it as "
                                          "the X-Author-Token header: reads then include your comments awaiting "
                                          "moderation, and later posts are known as yours")


class TooSoon(Problem):
    retry_after: int = Field(description="seconds to wait before posting again")


ACTIONS = Literal["approve", "reject", "spam", "not-spam"]
BULK_MAX = 500


class Decision(BaseModel):
    model_config = ConfigDict(extra="ignore")
    action: ACTIONS
    reason: str | None = Field(None, max_length=500, description="why, kept in the comment's history")


class BulkDecision(BaseModel):
    model_config = ConfigDict(extra="ignore")
    ids: list[int] = Field(min_length=1, max_length=BULK_MAX)
    action: ACTIONS

    @field_validator("ids")
    @classmethod
    def real_ids(cls, ids):
        if any(not 1 <= i <= MAX_ID for i in ids):
            raise ValueError(f"each id is a comment number from 1 to {MAX_ID}")
        return ids


class QueuedComment(BaseModel):
    """A comment as the moderators see it through the API (the email is not in it: the console reveals it, audited)."""

    id: int
    thread: str
    parent_id: int | None
    state: str
    author_name: str
    body: str
    score: float | None
    reasons: list[str]
    created_at: str


class Decided(BaseModel):
    comment: QueuedComment


class BulkDecided(BaseModel):
    done: list[int] = Field(description="the comments decided")
    skipped: list[int] = Field(description="the comments the action does not apply to, or that do not exist")
