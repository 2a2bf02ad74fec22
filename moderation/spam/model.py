"""The learned spam model: hashed word and character n-grams plus cheap per-comment features, logistic regression.

Everything the model needs is plain arrays (IDF weights, coefficients), saved with
numpy's npz format and loaded with allow_pickle=False: a model read from the database
can never run code.
"""
import html
import io
import math
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
from scipy.sparse import csr_matrix, hstack
from scipy.special import expit
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.utils import murmurhash3_32

FORMAT = 1
N_FEATURES = 2**18
C = 100.0
TOLERANCE = 1e-4
# liblinear's primal solver: three times faster than lbfgs on these wide, sparse matrices, and as good.
SOLVER = "liblinear"
# The comment form's limit (comments/forms.py BODY_MAX): a posted comment is read whole, while an
# imported, API or mail-corpus text longer than any comment costs no more than one.
TEXT_LIMIT = 10_000
# A bare address is tried once per run of word characters and hyphens, from its start, with any
# leading hyphens kept aside: `\b[\w-]+\.` tried again from every hyphen made "a-a-a-..." quadratic.
URL = re.compile(r"https?://[^\s<>\"]+|www\.[^\s<>\"]+|(?<![\w-])(?P<hyphens>-*+)"
                 r"[\w-]++\.(?:com|net|org|info|biz|ly|me|tv|co|us|pl|tk|ru|io)\b[^\s<>\"]*", re.I)
ANCHOR_START = re.compile(r"<a\s", re.I)
HREF = re.compile(r'href="', re.I)
ANCHOR_END = re.compile(r"</a>", re.I)
TAG = re.compile(r"<[^>]+>")
BREAK = re.compile(r"<br\s*/?>", re.I)
SURROGATE = re.compile("[\ud800-\udfff]")
# Names of the cheap features, as a moderator reads them in a reason.
DENSE = ("a link", "several links", "length", "many capitals", "many digits", "repeated !!/??", "digits in the name", "a web address as the name")


def clean(text):
    """What a person would read in the first TEXT_LIMIT characters: entities decoded, breaks and link targets kept."""
    # A lone surrogate (JSON may carry one) cannot be hashed as UTF-8.
    text = SURROGATE.sub("\ufffd", str(text)[:TEXT_LIMIT])
    text = html.unescape(text).replace("\ufeff", "").replace("\xa0", " ")
    return _replace_anchors(BREAK.sub("\n", text))


def _replace_anchors(text):
    """Each link tag replaced by `_anchor_text`, exactly as the pattern below did, in O(n log n).

    `<a\\s[^>]*href="([^"]*)"[^>]*>(.*?)</a>` (re.I | re.S) backtracked from every `<a ` into every
    `href="` and on to the end: cubic time. It matched from a tag start p the last `href="` at i before
    the first `>` after p, whose value ends at the next `"` (h), the tag at the next `>` (e), the text
    at the next `</a>` (c). Such an h, e and c exist exactly when i + 6 <= the last `"` before the last
    `>` before the last `</a>`, so each step is a binary search in a list of positions built once.
    """
    starts = [m.start() for m in ANCHOR_START.finditer(text)]
    ends = [m.start() for m in ANCHOR_END.finditer(text)]
    if not starts or not ends:
        return text
    hrefs = [m.start() for m in HREF.finditer(text)]
    quotes, closes = _positions(text, '"'), _positions(text, ">")
    last_close = _before(closes, ends[-1])
    last_quote = _before(quotes, last_close) if last_close is not None else None
    if last_quote is None:
        return text
    pieces, done = [], 0
    for start in starts:
        if start < done:  # inside the link just replaced
            continue
        tag = _last_href(hrefs, start + 3, min(_after(closes, start + 3, len(text)), last_quote - 5))
        if tag is None:
            continue
        quote = _after(quotes, tag + 6)
        close = _after(closes, quote + 1)
        end = _after(ends, close + 1)
        pieces += [text[done:start], _anchor_text(text[tag + 6:quote], text[close + 1:end])]
        done = end + 4
    return "".join(pieces) + text[done:]


def _positions(text, char):
    return [m.start() for m in re.finditer(re.escape(char), text)]


def _after(positions, at, default=None):
    """The first position at or after `at`."""
    index = bisect_left(positions, at)
    return positions[index] if index < len(positions) else default


def _before(positions, at):
    """The last position before `at`."""
    index = bisect_left(positions, at)
    return positions[index - 1] if index else None


def _last_href(hrefs, first, stop):
    """The last `href="` starting in [first, stop)."""
    index = bisect_left(hrefs, stop)
    return hrefs[index - 1] if index and hrefs[index - 1] >= first else None


def _anchor_text(href, shown):
    """What the commenter wrote: a platform turns "2:19" or "#tag" into a link, a pasted address stays one."""
    shown = _without_tags(shown).strip()
    return f" {href} " if not shown or URL.search(shown) else f" {shown} "


def _without_tags(text):
    """`TAG.sub("", text)`, kept off the part after the last `>`, where it would rescan to the end from every `<`."""
    end = text.rfind(">") + 1
    return TAG.sub("", text[:end]) + text[end:]


def _domain(url):
    try:
        host = urlsplit(url if "://" in url else "http://" + url).hostname or ""
    except ValueError:  # "http://[" and other hosts urlsplit refuses: a link all the same, to no known site
        host = ""
    return ".".join(host.split(".")[-2:]).replace(".", "_").replace("-", "_")


def _link_token(match):
    """The link's token and site; hyphens the pattern took before a bare address stay text, as they were."""
    hyphens = match.group("hyphens") or ""
    return f"{hyphens} linktoken site_{_domain(match.group(0)[len(hyphens):])} "


def normalise(text):
    """Links become a token and their domain; digits fold together; everything lower case."""
    text = URL.sub(_link_token, clean(text))
    return re.sub(r"\d", "0", text).lower()


def dense_features(text, author=""):
    text, author = clean(text), str(author or "")[:TEXT_LIMIT]
    links = len(URL.findall(text))
    letters = [c for c in text if c.isalpha()]
    capitals = sum(c.isupper() for c in letters) / max(len(letters), 1)
    digits = sum(c.isdigit() for c in text) / max(len(text), 1)
    return [
        float(links > 0), float(links > 1), math.log1p(len(text)) / 8, capitals if len(letters) > 5 else 0.0,
        digits, float(bool(re.search(r"[!?]{2,}", text))), float(bool(re.search(r"\d{3,}", author))),
        float(bool(URL.search(author))),
    ]


# Both read text that `normalise` already prepared, once for the two of them.
WORDS = HashingVectorizer(ngram_range=(1, 2), n_features=N_FEATURES, alternate_sign=False, norm=None)
CHARS = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), n_features=N_FEATURES,
                          alternate_sign=False, norm=None)
WORD_ANALYZER = WORDS.build_analyzer()


def hashed_counts(texts):
    """(word counts, character counts): sparse rows of hashed n-gram counts, one row per text."""
    prepared = [normalise(text) for text in texts]
    return WORDS.transform(prepared), CHARS.transform(prepared)


def token_column(token):
    """The column HashingVectorizer gives a token (sklearn hashes with signed murmur3, then abs, modulo)."""
    return abs(murmurhash3_32(token, seed=0)) % N_FEATURES


def _readable(token):
    if "linktoken" in token or "site_" in token:
        sites = re.findall(r"site_(\S+)", token)
        return f"a link to {sites[0].replace('_', '.')}" if sites else "a link"
    return f"'{token}'"


@dataclass
class SpamModel:
    """A trained model: IDF weights for both n-gram kinds, coefficients and intercept."""

    word_idf: np.ndarray
    char_idf: np.ndarray
    coef: np.ndarray
    intercept: float
    info: dict = field(default_factory=dict)

    def _matrix(self, texts, authors, counts=None):
        """The training matrix; `counts` are the texts' hashed (words, chars) when already at hand."""
        word_counts, char_counts = counts or hashed_counts(texts)
        dense = csr_matrix(np.array([dense_features(t, a) for t, a in zip(texts, authors)], dtype=np.float64))
        return hstack([_tfidf(word_counts, self.word_idf), _tfidf(char_counts, self.char_idf), dense]).tocsr()

    def scores(self, texts, authors=None):
        """Probability of spam for each text: the same sum as `_matrix(...) @ coef`, without building the matrix."""
        texts = list(texts)
        authors = list(authors) if authors is not None else [""] * len(texts)
        word_counts, char_counts = hashed_counts(texts)
        z = _weighted_sum(word_counts, self.word_idf, self.coef[:N_FEATURES])
        z += _weighted_sum(char_counts, self.char_idf, self.coef[N_FEATURES:2 * N_FEATURES])
        z += np.array([dense_features(t, a) for t, a in zip(texts, authors)]) @ self.coef[2 * N_FEATURES:]
        return expit(z + self.intercept)

    def explain(self, text, author="", top=3):
        """The strongest reasons towards spam in this text: readable words and the cheap features."""
        counts = Counter(WORD_ANALYZER(normalise(text)))
        weights = {token: (1 + math.log(n)) * self.word_idf[token_column(token)] for token, n in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        signals = {}
        for token, weight in weights.items():
            if token not in ENGLISH_STOP_WORDS:
                signals[_readable(token)] = weight / norm * float(self.coef[token_column(token)])
        offset = 2 * N_FEATURES
        for name, value, weight in zip(DENSE, dense_features(text, author), self.coef[offset:]):
            if value and name != "length":
                signals[name] = float(value * weight)
        ranked = sorted(((v, k) for k, v in signals.items() if v > 0), reverse=True)[:top]
        return [name for _, name in ranked]

    def to_bytes(self):
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, format=np.array(FORMAT), intercept=np.array(self.intercept),
            **_sparse("word_idf", self.word_idf), **_sparse("char_idf", self.char_idf), **_sparse("coef", self.coef),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob, info=None):
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            if int(arrays["format"]) != FORMAT:
                raise ValueError(f"model format {int(arrays['format'])} is not {FORMAT}")
            return cls(_dense("word_idf", arrays), _dense("char_idf", arrays), _dense("coef", arrays),
                       float(arrays["intercept"]), info or {})


def _weighted_sum(counts, idf, coef):
    """Per row: sum of (1 + log tf) * idf * coef over its n-grams, divided by the row's L2 norm."""
    rows = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
    weights = (np.log(counts.data) + 1) * idf[counts.indices]
    norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=counts.shape[0]))
    sums = np.bincount(rows, weights=weights * coef[counts.indices], minlength=counts.shape[0])
    return sums / np.where(norms == 0, 1, norms)


def _tfidf(counts, idf):
    counts = counts.astype(np.float64)
    np.log(counts.data, out=counts.data)
    counts.data += 1
    weighted = counts.multiply(idf).tocsr()
    norms = np.sqrt(weighted.multiply(weighted).sum(axis=1)).A1
    norms[norms == 0] = 1
    return csr_matrix(weighted.multiply(1 / norms[:, None]))


def _sparse(name, array):
    """Most entries are a default (an unseen n-gram's IDF, a zero weight): keep the others."""
    values, counts = np.unique(array, return_counts=True)
    default = values[np.argmax(counts)]
    index = np.flatnonzero(array != default).astype(np.int32)
    return {f"{name}_size": np.array(len(array)), f"{name}_default": np.array(default),
            f"{name}_index": index, f"{name}_value": array[index].astype(np.float32)}


def _dense(name, arrays):
    array = np.full(int(arrays[f"{name}_size"]), float(arrays[f"{name}_default"]))
    array[arrays[f"{name}_index"]] = arrays[f"{name}_value"]
    return array


def train(texts, labels, authors=None, weights=None):
    """Fit a model on labelled texts (1 = spam); both classes must be present."""
    texts, labels = list(texts), np.asarray(labels, dtype=int)
    if len(set(labels)) < 2:
        raise ValueError("training needs both spam and not-spam examples")
    authors = list(authors) if authors is not None else [""] * len(texts)
    counts = hashed_counts(texts)
    model = SpamModel(_idf(counts[0]), _idf(counts[1]), np.zeros(2 * N_FEATURES + len(DENSE)), 0.0)
    matrix = model._matrix(texts, authors, counts)
    fitted = LogisticRegression(C=C, tol=TOLERANCE, max_iter=3000, solver=SOLVER).fit(matrix, labels, sample_weight=weights)
    model.coef, model.intercept = fitted.coef_[0], float(fitted.intercept_[0])
    model.info = {"examples": int(len(labels)), "spam_examples": int(labels.sum())}
    return model


def _idf(counts):
    return TfidfTransformer(smooth_idf=True).fit(counts).idf_
