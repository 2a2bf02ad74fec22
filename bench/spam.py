"""Spam model quality across videos, and the speed of checking, scoring and retraining.

Usage: python bench/spam.py [DATA_DIR] [--train-sizes 10000,100000] [--quick]   (DATA_DIR default ../shared/data;
needs youtube-spam/*.csv)

Quality: trained on two videos of the YouTube Spam Collection (Alberto, Lochter and Almeida 2015, CC BY 4.0),
evaluated on the third, every way round; once as a batch ("offline") and once as moderators would teach it
("online": score 25 comments, learn their labels, and so on).
Speed: one comment through every check (Akismet off) on SQLite; the seed model (what a worker scores with until
a site has its own) scoring one comment at a time and a batch at once, and explaining a spam verdict; a retraining
as the worker runs it (read every stored example, fit, serialise, store the version) at each --train-sizes. The
data set has 1,138 comments, so bigger sets are made of its comments with small random edits (see `varied`).
Writes the section "spam" of bench/results/latest.json.
"""
import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MODERATION_ENV", "testing")

from flask_migrate import upgrade  # noqa: E402

from moderation import create_app  # noqa: E402
from moderation.extensions import db  # noqa: E402
from moderation.models import Comment, TrainingExample  # noqa: E402
from moderation.spam import evaluation, services  # noqa: E402
from moderation.spam.checks import run_checks  # noqa: E402
from moderation.spam.learning import read_examples, retrain_if_due  # noqa: E402
from moderation.spam.model import train  # noqa: E402
from moderation.spam.store import seed_model  # noqa: E402
from tests import factories  # noqa: E402

from results import record  # noqa: E402  (bench/, the script's own folder)

DEFAULT_DATA = ROOT.parent / "shared" / "data"
FIGURES = ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc", "spam_threshold_precision", "spam_threshold_recall")


def videos(data):
    """{video: (texts, labels, authors)} for each youtube-spam/*.csv under `data`."""
    found = {path.stem: read_examples(path) for path in sorted((Path(data) / "youtube-spam").glob("*.csv"))}
    if len(found) < 2:
        sys.exit(f"need at least two CSV files under {Path(data) / 'youtube-spam'}")
    return found


def corpus(data):
    """(texts, labels, authors) of every video together."""
    return tuple(sum((list(video[k]) for video in videos(data).values()), []) for k in range(3))


def cross_video(app, videos):
    print("cross-video (train on the other two, evaluate on this one)")
    print(f"{'evaluated on':24} {'mode':8} " + " ".join(f"{f.replace('spam_threshold_', 'conf_'):>10}" for f in FIGURES))
    rows = {mode: {} for mode in ("offline", "online")}
    for held_out in videos:
        train_rows = [row for name, data in videos.items() if name != held_out for row in zip(*data)]
        texts, labels, authors = videos[held_out]
        with app.app_context():
            store_examples([(t, y, a) for t, y, a in train_rows])
            model = train(*zip(*train_rows))
            threshold = app.config["MODERATION_SPAM_THRESHOLD"]
            for mode in rows:
                scores = (model.scores(texts, authors) if mode == "offline" else
                          evaluation.online_scores(model, texts, labels, authors, app.config["MODERATION_DECISION_WEIGHT"]))
                result = rows[mode][held_out] = evaluation.report(labels, scores, threshold)
                print(f"{held_out:24} {mode:8} " + " ".join(f"{result[f]:10.3f}" for f in FIGURES))
    for mode, results in rows.items():
        results["mean"] = {f: round(statistics.mean(r[f] for r in results.values()), 4) for f in FIGURES}
        print(f"{'mean':24} {mode:8} " + " ".join(f"{results['mean'][f]:10.3f}" for f in FIGURES))
    return rows


def store_examples(rows):
    """Replace every stored training example with `rows` of (text, label, author), in one statement."""
    db.session.execute(sa.delete(TrainingExample))
    db.session.execute(sa.insert(TrainingExample), [{"source": "bench", "text": t, "author": a or "", "is_spam": bool(y)}
                                                     for t, y, a in rows])
    db.session.commit()


def check_speed(app, texts, authors, n):
    with app.app_context():
        thread = factories.make_thread("speed")
        ids = []
        for i in range(n):
            comment = Comment(thread=thread, author_name=authors[i % len(authors)] or "Reader", body=texts[i % len(texts)],
                              author_email=f"speed-{i}@example.org", state="pending", reasons=[], author_ip="192.0.2.1")
            db.session.add(comment)
            db.session.flush()
            ids.append(comment.id)
        db.session.commit()
        services.check_comment(ids[0])  # loads the model once, as a worker does on its first task
        checks_only, whole_task = [], []
        for comment_id in ids[1:]:
            comment = db.session.get(Comment, comment_id)
            started = time.perf_counter()
            run_checks(comment, services.settings.current())
            services.model_finding(comment)
            checks_only.append(time.perf_counter() - started)
            started = time.perf_counter()
            services.check_comment(comment_id)
            whole_task.append(time.perf_counter() - started)
    figures = {"n": n - 1, "checks_ms_p50": _ms(statistics.median(checks_only)),
               "checks_ms_p95": _ms(sorted(checks_only)[int(len(checks_only) * 0.95)]),
               "task_ms_p50": _ms(statistics.median(whole_task))}
    print(f"one comment through every check (Akismet off), n={n - 1}: median {figures['checks_ms_p50']} ms,"
          f" p95 {figures['checks_ms_p95']} ms")
    print(f"the whole check_comment task incl. its SQLite transaction: median {figures['task_ms_p50']} ms")
    return figures


def model_speed(texts, labels, authors):
    """Microseconds per comment of the seed model: scoring one at a time (as a check does), all in one batch, and
    explaining a spam comment (a check explains every score of 0.5 and more)."""
    model = seed_model()
    model.scores(texts[:10], authors[:10])  # numpy's and scikit-learn's first-call costs are not the model's
    one = _per_item(lambda: [model.scores([t], [a]) for t, a in zip(texts, authors)], len(texts))
    batch = _per_item(lambda: model.scores(texts, authors), len(texts))
    spam = [(t, a) for t, y, a in zip(texts, labels, authors) if y]
    explain = _per_item(lambda: [model.explain(t, a) for t, a in spam], len(spam))
    figures = {"n": len(texts), "one_at_a_time_us": one, "batch_us": batch, "explain_us": explain,
               "mean_text_chars": round(statistics.mean(map(len, texts)))}
    print(f"the seed model, {len(texts)} comments of {figures['mean_text_chars']} characters on average: scoring one at "
          f"a time {one:.0f} µs/comment, as one batch {batch:.0f} µs/comment; explaining spam {explain:.0f} µs/comment")
    return figures


def _per_item(run, n):
    """Microseconds per item of the fastest of three runs: the slower ones measured other processes too."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return round(best / n * 1e6, 1)


def varied(texts, labels, authors, n, seed=1):
    """`n` examples made from the real ones: each a random real comment (its label and author kept) with one to
    three small edits, as people and spammers vary a text: a word dropped, a word doubled, two neighbouring words
    swapped, a word's case changed, or a word of another comment of the same label added at the end. The texts keep
    the data set's vocabulary and lengths, and few repeat exactly, as on a real site."""
    rng = random.Random(seed)
    by_label = {label: [t for t, y in zip(texts, labels) if y == label] for label in set(labels)}
    made = []
    for _ in range(n):
        i = rng.randrange(len(texts))
        words = texts[i].split() or [""]
        for _ in range(rng.randint(1, 3)):
            _edit(rng, words, rng.choice(by_label[labels[i]]).split() or [""])
        made.append((" ".join(words), labels[i], authors[i]))
    return made


def _edit(rng, words, other):
    at = rng.randrange(len(words))
    edit = rng.randrange(5)
    if edit == 0 and len(words) > 1:
        del words[at]
    elif edit == 1:
        words.insert(at, words[at])
    elif edit == 2 and at + 1 < len(words):
        words[at], words[at + 1] = words[at + 1], words[at]
    elif edit == 3:
        words[at] = words[at].upper() if words[at].islower() else words[at].lower()
    else:
        words.append(rng.choice(other))


def retrain_speed(app, texts, labels, authors, sizes):
    """Seconds of one retraining, as the worker runs it after a decision, on `size` stored examples."""
    figures = {}
    for size in sizes:
        with app.app_context():
            store_examples(varied(texts, labels, authors, size))
            started = time.perf_counter()
            version = retrain_if_due(source="bench", force=True)
            figures[str(size)] = round(time.perf_counter() - started, 2)
            model_kib = len(version.data) // 1024
        print(f"retraining on {size:,} examples (read, fit, serialise, store): {figures[str(size)]:.1f} s, "
              f"a model of {model_kib} KiB", flush=True)
    return figures


def _ms(seconds):
    return round(seconds * 1000, 2)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default=DEFAULT_DATA, type=Path, help="folder holding youtube-spam/*.csv")
    parser.add_argument("--train-sizes", default="10000,100000", help="examples per timed retraining, comma-separated")
    parser.add_argument("--checks", type=int, default=1000, help="comments through every check")
    parser.add_argument("--quick", action="store_true", help="300 comments through the checks, one retraining on 10,000")
    args = parser.parse_args()
    if args.quick:
        args.train_sizes, args.checks = "10000", 300
    args.train_sizes = [int(size) for size in args.train_sizes.split(",")]
    return args


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the finally blocks clean up, as on Ctrl-C
    by_video = videos(args.data)
    texts, labels, authors = corpus(args.data)
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3", "CELERY_BROKER_URL": "memory://"})
        with app.app_context():
            upgrade()
        figures = {"quality": cross_video(app, by_video), "checks": check_speed(app, texts, authors, args.checks),
                   "model": model_speed(texts, labels, authors),
                   "retrain_seconds": retrain_speed(app, texts, labels, authors, args.train_sizes)}
        with app.app_context():
            db.engine.dispose()
    record("spam", figures)


if __name__ == "__main__":
    main()
