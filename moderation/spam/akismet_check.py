"""The optional Akismet check, and reporting moderators' corrections back to it."""
import akismet
import httpx
from flask import current_app

from .checks import Finding

TEST_CLIENTS = {
    "test-spam": type("SpamTestClient", (akismet.TestSyncClient,), {"comment_check_response": akismet.CheckResponse.SPAM}),
    "test-ham": type("HamTestClient", (akismet.TestSyncClient,), {"comment_check_response": akismet.CheckResponse.HAM}),
}
# Network trouble is worth retrying; anything else from Akismet is not.
TRANSIENT = (akismet.RequestError, httpx.TransportError)


def enabled():
    return bool(current_app.config["MODERATION_AKISMET_KEY"])


def client():
    config = current_app.config
    settings = akismet.Config(key=config["MODERATION_AKISMET_KEY"], url=config["MODERATION_AKISMET_URL"])
    choice = config["MODERATION_AKISMET_CLIENT"]
    # Tests may configure a client class of their own (a subclass of akismet's TestSyncClient).
    kind = choice if isinstance(choice, type) else TEST_CLIENTS.get(choice, akismet.SyncClient)
    http = httpx.Client(timeout=config["MODERATION_AKISMET_TIMEOUT"], headers={"User-Agent": akismet.USER_AGENT})
    return kind(config=settings, http_client=http)


def payload(comment):
    """The fields Akismet documents for a comment check, exactly as sent (kept for submit-spam/ham)."""
    fields = {
        "user_ip": comment.author_ip or "",
        "user_agent": comment.user_agent or "",
        "referrer": comment.referrer or "",
        "permalink": comment.thread.url or "",
        "comment_type": "reply" if comment.parent_id else "comment",
        "comment_author": comment.author_name,
        "comment_author_email": comment.author_email,
        "comment_author_url": comment.author_url or "",
        "comment_content": comment.body,
        "comment_date_gmt": comment.created_at.isoformat(),
        "blog_charset": "UTF-8",
    }
    return {key: value for key, value in fields.items() if value != ""} | {"user_ip": fields["user_ip"]}


def check(comment):
    """Ask Akismet; returns (finding or None, what was sent and answered). Network errors propagate for a retry."""
    sent = payload(comment)
    with client() as akismet_client:
        answer = akismet_client.comment_check(**sent)
    verdict = {akismet.CheckResponse.HAM: "ham", akismet.CheckResponse.SPAM: "spam", akismet.CheckResponse.DISCARD: "discard"}[answer]
    record = {"sent": sent, "verdict": verdict}
    if verdict == "discard":
        return Finding("spam", 1.0, "Akismet: blatant spam", checker="akismet"), record
    if verdict == "spam":
        return Finding("score", 1.0, "Akismet: spam", checker="akismet"), record
    return Finding("score", 0.0, "Akismet: not spam", checker="akismet"), record


def report(comment, is_spam):
    """Tell Akismet a moderator disagreed with it (submit-spam or submit-ham)."""
    stored = comment.akismet_payload or {}
    said_spam = stored.get("verdict") in ("spam", "discard")
    if not stored.get("sent") or said_spam == is_spam:
        return None
    with client() as akismet_client:
        submit = akismet_client.submit_spam if is_spam else akismet_client.submit_ham
        submit(**stored["sent"])
    return "spam" if is_spam else "ham"
