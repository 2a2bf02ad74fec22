"""The learned model: safe storage, sensible scores, readable reasons, and the figures `evaluate` prints."""
import io
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from moderation.spam import evaluation
from moderation.spam.learning import read_examples
from moderation.spam.model import N_FEATURES, TEXT_LIMIT, SpamModel, normalise, token_column, train
from moderation.spam.store import seed_model

SAMPLE = Path(__file__).parent / "fixtures" / "spam_sample.csv"
# One comment of 9,965 characters like this kept a worker busy for 156 s: the link pattern backtracked in cubic time.
ANCHORS = ('<a ' + 'href="') * 1107 + "x>"
# 2.5 s in the bare-address pattern, which tried every hyphen as the start of an address again.
HYPHENS = "a-" * 5000
SMALL_SET = ["Subscribe to my channel http://promo.example.com", "Lovely chorus, I sing it all day",
             "free gift cards at www.gifts.example.net", "I saw them live last summer"]


@pytest.fixture(scope="module")
def sample_model():
    texts, labels, authors = read_examples(SAMPLE)
    return train(texts, labels, authors)


def test_the_seed_model_tells_obvious_spam_from_a_real_comment():
    model = seed_model()
    spam, ham = model.scores(["Check out my channel and subscribe!!! http://promo.example.com",
                              "I saw them live last summer, the second song was even better."])
    assert spam > 0.9 and ham < 0.2


def test_reasons_name_the_strongest_signals_in_words(sample_model):
    signals = sample_model.explain("subscribe to my channel http://promo.example.com")
    assert signals and all(isinstance(s, str) for s in signals)
    assert "'subscribe'" in signals or "a link" in signals or "'channel'" in signals
    assert sample_model.explain("The harmony in the last chorus is wonderful.") == [] or \
        sample_model.scores(["The harmony in the last chorus is wonderful."])[0] < 0.5


def test_a_stored_model_scores_exactly_as_the_trained_one(sample_model):
    copy = SpamModel.from_bytes(sample_model.to_bytes())
    texts = ["free gift cards http://x.example.net", "lovely chorus"]
    assert np.allclose(copy.scores(texts), sample_model.scores(texts), atol=1e-5)
    assert len(sample_model.to_bytes()) < 2_000_000


def test_loading_never_unpickles(tmp_path):
    buffer = io.BytesIO()
    np.savez(buffer, format=np.array([{"not": "an array"}], dtype=object))
    with pytest.raises(ValueError, match="allow_pickle"):
        SpamModel.from_bytes(buffer.getvalue())


def test_explanations_look_at_the_same_columns_as_the_vectorizer():
    hashing = HashingVectorizer(n_features=N_FEATURES, alternate_sign=False, norm=None, analyzer=lambda text: [text])
    for token in ("subscribe", "check out", "linktoken", "site_example_com"):
        assert hashing.transform([token]).indices[0] == token_column(token)


def test_training_needs_both_classes():
    with pytest.raises(ValueError, match="both spam and not-spam"):
        train(["only ham", "more ham"], [0, 0])


def test_the_report_has_every_figure_the_design_names():
    result = evaluation.report([1, 1, 0, 0], [0.95, 0.6, 0.4, 0.1], 0.9)
    assert set(result) >= {"n", "accuracy", "precision", "recall", "f1", "mcc", "roc_auc",
                           "spam_threshold_precision", "spam_threshold_recall"}
    assert (result["accuracy"], result["mcc"], result["spam_threshold_recall"]) == (1.0, 1.0, 0.5)


def test_fast_scoring_equals_the_training_matrix(sample_model):
    texts = ["subscribe to my channel http://promo.example.com", "", "The harmony is wonderful!!"]
    z = sample_model._matrix(texts, ["", "", "Name 123"]) @ sample_model.coef + sample_model.intercept
    assert np.allclose(sample_model.scores(texts, ["", "", "Name 123"]), 1 / (1 + np.exp(-z)))


def _seconds(call, *args):
    started = time.perf_counter()
    call(*args)
    return time.perf_counter() - started


@pytest.mark.parametrize("text", [ANCHORS, HYPHENS], ids=["anchors", "hyphens"])
def test_a_comment_built_to_backtrack_is_read_in_linear_time(text):
    """A guard against quadratic and cubic time, not a benchmark: the old patterns took seconds to minutes."""
    model = seed_model()
    assert _seconds(model.scores, [text], [text]) < 1
    assert _seconds(model.explain, text, text) < 1
    assert _seconds(train, SMALL_SET + [text], [1, 0, 1, 0, 1]) < 1


@pytest.mark.parametrize("text", ["see http://[ my page", "http://[::1"])
def test_an_address_urlsplit_refuses_is_still_read_as_a_link(text):
    model = seed_model()
    assert 0 <= model.scores([text], [text])[0] <= 1
    assert isinstance(model.explain(text, text), list)
    assert "linktoken site_ " in normalise(text)
    train(SMALL_SET + [text], [1, 0, 1, 0, 1], authors=[""] * 4 + [text])


def test_the_model_reads_the_first_text_limit_characters():
    assert normalise("a" * TEXT_LIMIT + " casino http://spam.example.com") == normalise("a" * TEXT_LIMIT)
