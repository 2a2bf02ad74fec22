"""Measuring the spam model on labelled comments, as a batch or as moderators would teach it."""
import numpy as np
from sklearn import metrics

from .model import train
from .store import example_rows

ONLINE_BATCH = 25


def report(labels, scores, spam_threshold):
    """The figures `moderation spam evaluate` prints: at 0.5, and at the confident-spam threshold."""
    labels, scores = np.asarray(labels, dtype=int), np.asarray(scores, dtype=float)
    predicted, confident = scores >= 0.5, scores >= spam_threshold
    both = len(set(labels)) == 2
    return {
        "n": int(len(labels)),
        "accuracy": round(metrics.accuracy_score(labels, predicted), 4),
        "precision": round(metrics.precision_score(labels, predicted, zero_division=0), 4),
        "recall": round(metrics.recall_score(labels, predicted, zero_division=0), 4),
        "f1": round(metrics.f1_score(labels, predicted, zero_division=0), 4),
        "mcc": round(metrics.matthews_corrcoef(labels, predicted), 4),
        "roc_auc": round(metrics.roc_auc_score(labels, scores), 4) if both else None,
        "spam_threshold": spam_threshold,
        "spam_threshold_precision": round(metrics.precision_score(labels, confident, zero_division=0), 4),
        "spam_threshold_recall": round(metrics.recall_score(labels, confident, zero_division=0), 4),
    }


def online_scores(model, texts, labels, authors, decision_weight, batch=ONLINE_BATCH):
    """Score a batch, then learn its labels with a decision's weight, then the next batch, and so on.

    Training starts from the stored examples, as the retrain after each moderator decision does.
    """
    known = [(r.text, int(r.is_spam), r.author, r.weight) for r in example_rows()]
    scores = []
    for start in range(0, len(texts), batch):
        end = start + batch
        scores.extend(model.scores(texts[start:end], authors[start:end]))
        known += [(t, y, a, decision_weight) for t, y, a in zip(texts[start:end], labels[start:end], authors[start:end])]
        if len({y for _, y, _, _ in known}) == 2:
            model = train(*zip(*[(t, y, a) for t, y, a, _ in known]), weights=[w for *_, w in known])
    return np.asarray(scores)
