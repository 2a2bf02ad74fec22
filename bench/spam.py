"""Spam model quality across videos, and the speed of checking and training.

Usage: python bench/spam.py [DATA_DIR]   (default ../shared/data; needs youtube-spam/*.csv)

Quality: trained on two videos of the YouTube Spam Collection (Alberto, Lochter and Almeida 2015,
CC BY 4.0), evaluated on the third, every way round; once as a batch ("offline") and once as
moderators would teach it ("online": score 25 comments, learn their labels, and so on).
Speed: one comment through every check (Akismet off) on SQLite, and training on 10,000 comments.
"""
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MODERATION_ENV", "testing")

from flask_migrate import upgrade  # noqa: E402

from moderation import create_app  # noqa: E402
from moderation.extensions import db  # noqa: E402
from moderation.models import Comment, TrainingExample  # noqa: E402
from moderation.spam import evaluation, services  # noqa: E402
from moderation.spam.checks import run_checks  # noqa: E402
from moderation.spam.learning import read_examples  # noqa: E402
from moderation.spam.model import train  # noqa: E402
from tests import factories  # noqa: E402

FIGURES = ("accuracy", "precision", "recall", "f1", "mcc", "roc_auc", "spam_threshold_precision", "spam_threshold_recall")


def cross_video(app, videos):
    print("cross-video (train on the other two, evaluate on this one)")
    print(f"{'evaluated on':24} {'mode':8} " + " ".join(f"{f.replace('spam_threshold_', 'conf_'):>10}" for f in FIGURES))
    rows = {mode: [] for mode in ("offline", "online")}
    for held_out in videos:
        train_rows = [row for name, data in videos.items() if name != held_out for row in zip(*data)]
        texts, labels, authors = videos[held_out]
        with app.app_context():
            db.session.execute(db.delete(TrainingExample))
            db.session.add_all(TrainingExample(source="bench", text=t, author=a, is_spam=bool(y)) for t, y, a in train_rows)
            db.session.commit()
            model = train(*zip(*train_rows))
            threshold = app.config["MODERATION_SPAM_THRESHOLD"]
            for mode in rows:
                scores = (model.scores(texts, authors) if mode == "offline" else
                          evaluation.online_scores(model, texts, labels, authors, app.config["MODERATION_DECISION_WEIGHT"]))
                result = evaluation.report(labels, scores, threshold)
                rows[mode].append(result)
                print(f"{held_out:24} {mode:8} " + " ".join(f"{result[f]:10.3f}" for f in FIGURES))
    for mode, results in rows.items():
        print(f"{'mean':24} {mode:8} " + " ".join(f"{statistics.mean(r[f] for r in results):10.3f}" for f in FIGURES))


def check_speed(app, texts, authors, n=1000):
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
    print(f"one comment through every check (Akismet off), n={n - 1}: median {statistics.median(checks_only) * 1000:.2f} ms,"
          f" p95 {sorted(checks_only)[int(len(checks_only) * 0.95)] * 1000:.2f} ms")
    print(f"the whole check_comment task incl. its SQLite transaction: median {statistics.median(whole_task) * 1000:.2f} ms")


def training_speed(texts, labels, authors, n=10_000):
    rng = random.Random(1)
    picks = [rng.randrange(len(texts)) for _ in range(n)]
    synthetic = [f"{texts[i]} {texts[rng.randrange(len(texts))][:40]}" for i in picks]
    started = time.perf_counter()
    train(synthetic, [labels[i] for i in picks], [authors[i] for i in picks])
    print(f"training on {n:,} comments: {time.perf_counter() - started:.1f} s")


def main():
    data = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "data") / "youtube-spam"
    videos = {path.stem: read_examples(path) for path in sorted(data.glob("*.csv"))}
    if len(videos) < 2:
        sys.exit(f"need at least two CSV files under {data}")
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3", "CELERY_BROKER_URL": "memory://"})
        with app.app_context():
            upgrade()
        cross_video(app, videos)
        texts, labels, authors = (sum((list(v[k]) for v in videos.values()), []) for k in range(3))
        check_speed(app, texts, authors)
        training_speed(texts, labels, authors)


if __name__ == "__main__":
    main()
