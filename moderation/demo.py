"""The demo article that `make run` shows on a fresh install, and synthetic comments in bulk for benchmarks."""
import hashlib
import http.server
import ipaddress
import queue
import random
import secrets
import threading
import time
from bisect import bisect
from collections import deque, namedtuple
from datetime import timedelta
from itertools import accumulate

import sqlalchemy as sa
from flask import current_app

from .audit import record
from .comments.services import create_thread, get_thread
from .extensions import db
from .models import AuditEvent, Comment, Moderator, Thread, utcnow
from .privacy.addresses import truncated_ip
from .privacy.crypto import Encrypted, email_index, ip_index
from .review.services import create_moderator
from .spam.services import CHECKER
from .text import render_body

DEMO_KEY = "hello-world"
DEMO_COMMENTS = (
    ("Ada", "Thanks for writing this up. The part about threads was exactly what I needed."),
    ("Grace", "Agreed! One question: does it work with PostgreSQL too?\n\nI run everything there."),
)

# Synthetic data (`moderation demo --comments N`): about one article per 500 comments; the first article has exactly
# 400 approved comments (and 100 in other states), the long page a benchmark reads.
SYNTHETIC_KEY = "demo-thread-{:05d}"
BIG_THREAD_KEY = SYNTHETIC_KEY.format(1)
BIG_THREAD = {"approved": 400, "other": 100}
COMMENTS_PER_THREAD = 500
# Of every 100 comments: 10 held, 8 spam, 2 rejected, the other 80 approved.
SHARES = {"held": 10, "spam": 8, "rejected": 2}
COMMENTS_PER_AUTHOR = 250
AUTHORS_MAX = 4000
BATCH = 50_000
# SQLite counts a negative cache size in KiB: 256 MiB, enough for the indexes a batch touches.
SQLITE_CACHE_SIZE = -256 * 1024
REPLY_SHARE = 0.2
SEED = 20240601
# A word in about a third of the readers' comments, and one in one comment in a thousand: searches for both.
COMMON_WORD, RARE_WORD = "thanks", "zeppelin"
FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Katherine", "Linus", "Margaret",
         "Niklaus", "Radia", "Tim", "Sophie", "Ken", "Dennis", "Hedy", "Claude", "Joan", "Yukihiro", "Guido", "Anita",
         "Leslie", "Shafi", "Tony", "Vint", "Whitfield", "Adele", "Jean", "Ivan", "Carl", "Mary", "Evelyn", "Kathleen",
         "Betty", "Marlyn", "Ruth", "Wilhelm", "Emmy")
LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy", "Johnson", "Torvalds",
        "Hamilton", "Wirth", "Perlman", "Berners-Lee", "Wilson", "Thompson", "Ritchie", "Lamarr", "Shannon", "Clarke",
        "Matsumoto", "van Rossum", "Borg", "Lamport", "Goldwasser", "Hoare", "Cerf", "Diffie", "Goldberg", "Sammet",
        "Sutherland", "Petri", "Keller", "Boyd", "Booth", "Snyder", "Wescoff", "Teitelbaum", "Ackermann", "Noether")
SPAMMERS = ("Cheap Watches", "Best Casino Bonus", "SEO Expert", "Crypto Signals", "Replica Bags", "Loan Offers")
HAM = ("Great article, I learned a lot.", "I disagree with the second point, though.",
       "Has anyone tried this on a larger site?", "This matches what we saw in production last year.",
       "Could you write a follow-up about the deployment?", "The diagram helped more than the text.",
       "We switched to this approach and never looked back.", "A small typo in the third paragraph.",
       "How does this compare with the old way of doing it?", "I have been reading this blog for years.",
       "My team had the exact same problem.", "Interesting, but the numbers seem optimistic.",
       "Bookmarked for the weekend.", "The comments here are as good as the post.",
       "Is there a recording of the talk?", "I would love to see the source code.")
THANKS = ("Many thanks for sharing this.", "Just wanted to say thanks, this was useful.",
          "A big thanks for the clear explanation.")
RARE = "My grandfather once crossed the Atlantic in a zeppelin, believe it or not."
SPAM = ("Buy cheap watches at https://watches.example.net/ today!", "Best casino bonus: https://casino.example.net/",
        "Earn money from home, click https://jobs.example.net/ now.", "Replica bags 90% off https://bags.example.net/",
        "Crypto signals that never lose: https://signals.example.net/")
HOLD_REASONS = ("3 links, the limit is 2", "moderation word 'crypto' in the body",
                "form sent 1.4 s after the page was opened (a person takes at least 3 s)", None, None)
SPAM_REASONS = ("blocked word 'casino' in the body", "the hidden field that only robots see was filled in", None)
USER_AGENTS = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
               "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Safari/605.1.15",
               "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0")
BENCHMARK_NETWORK = int(ipaddress.IPv4Address("198.18.0.0"))  # 198.18.0.0/15: addresses set aside for benchmarks
DOCUMENTATION_V6 = int(ipaddress.IPv6Address("2001:db8::"))


def seed():
    """Idempotent: a second run changes nothing and says so."""
    lines = []
    if get_thread(DEMO_KEY) is None:
        thread = create_thread(DEMO_KEY, "Hello, world: comments are open", None)
        for name, body in DEMO_COMMENTS:
            # Demo data is not news: no webhook or email is owed for it.
            comment = Comment(thread=thread, author_name=name, author_email=f"{name.lower()}@example.org",
                              body=body, state="approved", reasons=[], announced_at=utcnow())
            db.session.add(comment)
            db.session.flush()
            record(comment, None, "approved", actor="demo data").announced_at = comment.announced_at
        db.session.commit()
        lines.append(f"Demo article at /threads/{DEMO_KEY}")
    if db.session.scalar(sa.select(sa.func.count()).select_from(Moderator)) == 0:
        password = secrets.token_urlsafe(12)
        create_moderator("demo", password, is_admin=True)
        lines.append(f"Moderator 'demo' created with password {password} (sign in at /moderation/login).")
    return lines or ["Demo data already present."]


def page_server(port, page_for):
    """A tiny HTTP server on 127.0.0.1:port answering every GET with `page_for(path)` (HTML bytes): the demo
    article of "another site" that `make run` serves, and the host page of the widget's browser tests."""
    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            page = page_for(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", port), Page)


Author = namedtuple("Author", "name url email email_hash reader_hash addresses")


def seed_comments(count, progress=None):
    """`count` synthetic comments over about count/500 articles, for benchmarks; idempotent like `seed`.

    Rows go in through SQLAlchemy Core, `BATCH` to a transaction, with one audit event each (the change that put
    the comment in its state). Personal columns are sealed by their own column types and indexed as a posted
    comment's are, once per distinct value (an author's email, each of their addresses), not once per row.
    """
    if get_thread(BIG_THREAD_KEY) is not None:
        synthetic = sa.select(sa.func.count(sa.distinct(Thread.id)), sa.func.count(Comment.id)).select_from(Thread) \
            .outerjoin(Comment, Comment.thread_id == Thread.id).where(Thread.key.like("demo-thread-%"))
        threads, comments = db.session.execute(synthetic).one()
        return [f"Synthetic comments already present ({comments:,} over {threads:,} articles); nothing added."]
    started = time.perf_counter()
    thread_ids = _insert_threads(max(1, round(count / COMMENTS_PER_THREAD)))
    plan = _Synthetic(count, thread_ids, _reserve_ids(count), random.Random(SEED))
    # No snapshot stays open while the batches go in: SQLite could not checkpoint its write-ahead log past it.
    db.session.commit()
    comments, events = _comment_insert(), sa.insert(AuditEvent.__table__)
    written = 0
    for rows, audit in _batches(plan, count):
        with db.engine.begin() as connection:
            if connection.dialect.name == "sqlite":
                # A page cache that holds the indexes being filled, so that each page is written once per batch.
                connection.exec_driver_sql(f"PRAGMA cache_size={SQLITE_CACHE_SIZE}")
            connection.execute(comments, rows)
            connection.execute(events, audit)
        written += len(rows)
        if progress and (written % (2 * BATCH) == 0 or written == count):
            progress(f"  {written:,} of {count:,} comments ({time.perf_counter() - started:.1f} s)")
    _analyze()
    seconds = time.perf_counter() - started
    states = ", ".join(f"{n:,} {state}" for state, n in plan.state_counts.items())
    return [f"Inserted {count:,} synthetic comments over {len(plan.thread_ids):,} articles in {seconds:.1f} s "
            f"({count / seconds:,.0f} a second): {states}; {plan.author_count:,} authors; one audit event each.",
            f"The longest article: /threads/{BIG_THREAD_KEY}."]


def _batches(plan, count):
    """(comments, audit events) a batch at a time, made in a thread of their own while the previous batch is being
    written: the database driver lets go of the interpreter while the database works."""
    ready = queue.Queue(maxsize=2)

    def make():
        try:
            for start in range(0, count, BATCH):
                rows = [plan.comment(i) for i in range(start, min(start + BATCH, count))]
                ready.put((rows, [plan.event(row) for row in rows]))
            ready.put(None)
        except BaseException as error:  # noqa: BLE001 - handed to the writer, which raises it
            ready.put(error)

    threading.Thread(target=make, name="demo rows", daemon=True).start()
    while (batch := ready.get()) is not None:
        if isinstance(batch, BaseException):
            raise batch
        yield batch


def _comment_insert():
    table = Comment.__table__
    # The personal values come sealed already (see _Synthetic.seal): bound as the text they are, not sealed again.
    return sa.insert(table).values({c.name: sa.bindparam(c.name, type_=sa.Text()) for c in table.c
                                    if isinstance(c.type, Encrypted)})


def _reserve_ids(count):
    """The first of `count` ids after every id in use; PostgreSQL's sequence moves past them at once, so that a comment
    posted meanwhile takes an id after them (on SQLite, run it while nobody posts)."""
    first = (db.session.scalar(sa.select(sa.func.max(Comment.id))) or 0) + 1
    if db.engine.dialect.name == "postgresql":
        sequence = "pg_get_serial_sequence('comments', 'id')"
        with db.engine.begin() as connection:
            first = max(first, connection.scalar(sa.text(f"SELECT nextval({sequence})")))
            connection.execute(sa.text(f"SELECT setval({sequence}, :last)"), {"last": first + count - 1})
    return first


def _analyze():
    """PostgreSQL's planner learns the new sizes, and its visibility map the new pages (so that counts read the
    indexes alone), now rather than when autovacuum next looks."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE threads, comments, audit_events"))


class _Synthetic:
    """Everything about the comments decided up front (states, articles, authors, times), then one row at a time."""

    def __init__(self, count, thread_ids, first_id, rng):
        self.rng, self.now, self.thread_ids, self.first_id = rng, utcnow(), thread_ids, first_id
        self.retain = timedelta(days=current_app.config["MODERATION_RETAIN_DAYS"])
        self.states = _states(count, rng)
        self.state_counts = {s: self.states.count(s) for s in ("approved", "held", "spam", "rejected")}
        self.thread_of = _thread_plan(self.states, len(thread_ids), rng)
        year = timedelta(days=365).total_seconds()
        self.times = sorted(rng.uniform(0, year - 3600) for _ in range(count))
        self.start = self.now - timedelta(days=365)
        self.readers = _Authors([_reader(k, rng, self.seal) for k in range(_author_count(count))], rng)
        self.spammers = _Authors([_spammer(k, rng, self.seal) for k in range(max(1, len(self.readers.all) // 10))], rng)
        self.author_count = len(self.readers.all) + len(self.spammers.all)
        self.user_agents = [self.seal("user_agent", agent) for agent in USER_AGENTS]
        self.bodies = _bodies(rng)
        self.rendered = {}
        self.recent_approved = [deque(maxlen=50) for _ in self.thread_ids]
        moderator = db.session.scalar(sa.select(Moderator).order_by(Moderator.id).limit(1))
        self.moderator = (moderator.id, moderator.username) if moderator else (None, "demo data")

    def seal(self, column, value):
        """Exactly what the column's type stores for `value` when the ORM writes it."""
        return Comment.__table__.c[column].type.process_bind_param(value, db.engine.dialect)

    def comment(self, i):
        rng, state, thread = self.rng, self.states[i], self.thread_of[i]
        author = (self.spammers if state == "spam" else self.readers).pick()
        created = self.start + timedelta(seconds=self.times[i])
        purged = created < self.now - self.retain
        ip_hash, whole_ip, kept_ip = author.addresses[i % len(author.addresses)]
        score, reasons = _verdict(state, rng)
        checked, decided = self._dates(created, state)
        parent = self.recent_approved[thread]
        body = self.body(i, state)
        row = dict(
            id=self.first_id + i, thread_id=self.thread_ids[thread], author_name=author.name,
            parent_id=rng.choice(parent) if parent and rng.random() < REPLY_SHARE else None,
            author_email=author.email, email_hash=author.email_hash, author_url=author.url, body=body,
            body_html=self.html(body),
            state=state, spam_score=score, reasons=reasons, honeypot=False, ip_hash=ip_hash,
            # Only a comment a moderator may still review keeps the whole address, and only within retention.
            author_ip=whole_ip if state == "held" and not purged else kept_ip, reader_hash=author.reader_hash,
            user_agent=None if purged else self.user_agents[i % len(self.user_agents)], check_attempts=1,
            form_seconds=round(rng.uniform(8, 600), 1), referrer=None, akismet_payload=None, created_at=created,
            check_sent_at=created, checked_at=checked, decided_at=decided,
            purged_at=min(self.now, created + self.retain + timedelta(minutes=rng.uniform(0, 60))) if purged else None,
            erased_at=None, edited_at=None, staff_id=None, notify_replies=False, notify_approval=False,
            announced_at=self.now,  # synthetic: no webhook or email is owed for it
        )
        if state == "approved":
            parent.append(row["id"])
        return row

    def html(self, body):
        """The body as the pages show it, made once per distinct text of the pool."""
        if body not in self.rendered:
            self.rendered[body] = str(render_body(body))
        return self.rendered[body]

    def body(self, i, state):
        text = self.rng.choice(self.bodies[state != "spam"])
        return f"{text} {RARE}" if i % 1000 == 500 else text

    def _dates(self, created, state):
        checked = created + timedelta(seconds=self.rng.uniform(1, 20))
        if state in ("approved", "rejected"):
            wait = min(3 * 86400, (self.now - checked).total_seconds())
            return checked, checked + timedelta(seconds=self.rng.uniform(0, wait))
        return checked, None

    def event(self, row):
        """The audit event of the change that put the comment where it is: the checker's verdict, or a decision."""
        state = row["state"]
        if state in ("held", "spam"):
            return dict(comment_id=row["id"], moderator_id=None, actor=CHECKER, from_state="pending", to_state=state,
                        reason="; ".join(row["reasons"]), action=None, created_at=row["checked_at"],
                        announced_at=self.now)
        action = "approve" if state == "approved" else "reject"
        return dict(comment_id=row["id"], moderator_id=self.moderator[0], actor=self.moderator[1], from_state="held",
                    to_state=state, reason=action, action=action, created_at=row["decided_at"], announced_at=self.now)


class _Authors:
    """A few authors write most comments: the k-th most active writes about 1/k of what the first does."""

    def __init__(self, authors, rng):
        self.all, self.rng = authors, rng
        self.cumulative = list(accumulate(1 / (k + 1) ** 0.9 for k in range(len(authors))))

    def pick(self):
        return self.all[bisect(self.cumulative, self.rng.random() * self.cumulative[-1])]


def _author_count(count):
    return min(AUTHORS_MAX, max(20, count // COMMENTS_PER_AUTHOR))


def _states(count, rng):
    """Exactly SHARES of each state, in random order."""
    counts = {state: count * share // 100 for state, share in SHARES.items()}
    states = ["approved"] * (count - sum(counts.values()))
    for state, n in counts.items():
        states += [state] * n
    rng.shuffle(states)
    return states


def _insert_threads(count):
    year_ago = utcnow() - timedelta(days=366)
    keys = [SYNTHETIC_KEY.format(k + 1) for k in range(count)]
    rows = [dict(key=key, title=f"Demo article {k + 1}", url=f"https://blog.example.org/{key}", comments_open=True,
                 created_at=year_ago) for k, key in enumerate(keys)]
    with db.engine.begin() as connection:
        connection.execute(sa.insert(Thread.__table__), rows)
        ids = dict(connection.execute(sa.select(Thread.key, Thread.id).where(Thread.key.like("demo-thread-%"))).all())
    return [ids[key] for key in keys]


def _thread_plan(states, threads, rng):
    """The article of each comment (an index): the first gets BIG_THREAD's comments, the others share the rest
    unevenly."""
    if threads == 1:
        return [0] * len(states)
    weights = [0] + [rng.lognormvariate(0, 0.6) for _ in range(threads - 1)]
    plan = rng.choices(range(threads), weights=weights, k=len(states))
    approved = [i for i, state in enumerate(states) if state == "approved"]
    other = [i for i, state in enumerate(states) if state != "approved"]
    for i in rng.sample(approved, min(BIG_THREAD["approved"], len(approved))) + \
            rng.sample(other, min(BIG_THREAD["other"], len(other))):
        plan[i] = 0
    return plan


def _reader(k, rng, seal):
    first, last = FIRST[k % len(FIRST)], LAST[k // len(FIRST) % len(LAST)]
    number = k // (len(FIRST) * len(LAST))
    local = f"{first}.{last}".lower().replace(" ", "") + (str(number) if number else "")
    url = f"https://{local.replace('.', '-')}.example.net/" if rng.random() < 0.4 else None
    return _author(f"{first} {last}", f"{local}@{rng.choice(('example.org', 'example.com'))}", url, rng, seal)


def _spammer(k, rng, seal):
    name = SPAMMERS[k % len(SPAMMERS)]
    local = f"{name.lower().replace(' ', '-')}-{k}"
    return _author(name, f"{local}@example.com", f"https://{local}.example.com/", rng, seal)


def _author(name, email, url, rng, seal):
    addresses = [_address(rng) for _ in range(rng.randint(1, 3))]
    browser = hashlib.sha256(rng.randbytes(32)).hexdigest()
    sealed = [(ip_index(ip), seal("author_ip", ip), seal("author_ip", truncated_ip(ip))) for ip in addresses]
    return Author(name, url, seal("author_email", email), email_index(email), browser, sealed)


def _address(rng):
    if rng.random() < 0.9:
        return str(ipaddress.IPv4Address(BENCHMARK_NETWORK + rng.randrange(1 << 17)))
    return str(ipaddress.IPv6Address(DOCUMENTATION_V6 + rng.randrange(1 << 96)))


def _verdict(state, rng):
    if state == "spam":
        score = rng.uniform(0.9, 1.0)
        extra = rng.choice(SPAM_REASONS)
        first = f"model: {score:.2f} spam; strongest signals: casino, cheap, https"
    else:
        score = rng.uniform(0.02, 0.45) if state == "approved" else rng.uniform(0.1, 0.89)
        extra = rng.choice(HOLD_REASONS)
        first = f"model: {score:.2f} spam"
    return round(score, 3), [first, extra] if extra else [first]


def _bodies(rng, count=5000):
    """A pool of texts to draw from: cheaper than writing each anew."""
    spam = [" ".join(rng.sample(SPAM, rng.randint(1, 2))) for _ in range(50)]
    ham = []
    for k in range(count):
        sentences = rng.sample(HAM, rng.randint(1, 4))
        if rng.random() < 0.35:
            sentences.insert(0, rng.choice(THANKS))
        ham.append(("\n\n" if len(sentences) > 2 and rng.random() < 0.3 else " ").join(sentences))
    return spam, ham
