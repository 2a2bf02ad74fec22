"""Sending email over SMTP with the standard library: one connection per run, every step under a timeout."""
import smtplib
import ssl
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

# What a failed send can raise: the server's refusals, and the network's (refused, reset, timed out, bad TLS).
SEND_ERRORS = (smtplib.SMTPException, OSError)
# The server refused this one message (its recipient, sender or content) and stays usable for the next.
REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
# A header that cannot be folded (a long link) is sent whole, as RFC 5322 allows lines of up to 998 characters,
# rather than cut into encoded words, which the List-* headers (RFC 2369, RFC 8058) may not be.
WHOLE_HEADERS = policy.default.clone(max_line_length=998)


def problems(config):
    """Why the service cannot send notifications, as sentences for the account page; empty when it can."""
    found = []
    if not config["MODERATION_SMTP_HOST"]:
        found.append("MODERATION_SMTP_HOST is not set, so the service has no mail server to send through.")
    if not config["MODERATION_BASE_URL"]:
        found.append("MODERATION_BASE_URL is not set, so an email could not link back to this service.")
    return found


def sender(config):
    """MODERATION_MAIL_FROM, or an address at the service's own host."""
    if config["MODERATION_MAIL_FROM"]:
        return config["MODERATION_MAIL_FROM"]
    return f"moderation@{urlsplit(config['MODERATION_BASE_URL']).hostname}"


def message(config, to, subject, text, html=None, headers=None):
    """A plain-text email (with an HTML alternative when given), marked as sent by a machine (RFC 3834); `headers`
    adds others (List-Unsubscribe, say)."""
    mail = EmailMessage()
    mail["From"] = sender(config)
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender(config).rpartition("@")[2])
    mail["Auto-Submitted"] = "auto-generated"
    for name, value in (headers or {}).items():
        mail[name] = value
    mail.set_content(text)
    if html:
        mail.add_alternative(html, subtype="html")
    # Only now: the bodies were encoded for lines of 78 characters, as before; the headers are written at sending.
    mail.policy = WHOLE_HEADERS
    return mail


def connect(config):
    """An open, greeted, authenticated SMTP connection; the caller closes it (`with connect(...) as smtp`)."""
    host, port = config["MODERATION_SMTP_HOST"], config["MODERATION_SMTP_PORT"]
    timeout = config["MODERATION_SMTP_TIMEOUT"]
    if config["MODERATION_SMTP_SSL"]:
        smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    try:
        if config["MODERATION_SMTP_STARTTLS"]:
            smtp.starttls(context=ssl.create_default_context())
        if config["MODERATION_SMTP_USERNAME"]:
            smtp.login(config["MODERATION_SMTP_USERNAME"], config["MODERATION_SMTP_PASSWORD"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


class Outbox:
    """The run's one SMTP connection, opened with the first message and closed at the end (`with Outbox(...)`)."""

    def __init__(self, config):
        self.config = config
        self.smtp = None

    def send(self, mail):
        if self.smtp is None:
            self.smtp = connect(self.config)
        self.smtp.send_message(mail)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        if self.smtp is None:
            return
        try:
            self.smtp.quit()
        except SEND_ERRORS:
            self.smtp.close()
