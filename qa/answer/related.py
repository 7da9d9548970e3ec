"""The collection's own words for a question's words that no passage holds, added to its BM25 search.

People ask in their own words: "Will the guarantee cover it?" of a page that says "warranty", "black
trash sacks" of one that says "rubbish bags". A word no passage holds scores nothing in BM25, so the
lexical vote goes to the passages that match the question's other, commoner words ("cover", "take"),
often in the wrong document. Each such word is looked up among the collection's words by meaning (the
embedding model, word by word), and the nearest ones above a similarity floor join the BM25 query.
Only the search reads them: the highlight and the judgement still weigh the words the person wrote.

The collection's words are embedded once, on the first question that needs them (about a second for a
few thousand words), and kept per embedding model, so an added document costs only its new words.
A question's own unmatched words take one pass of the question encoder (about 3 ms), except those
``prepare`` embedded ahead: a server embeds the tokenizer's ~20,000 whole words in the background at
start (about ten seconds, ~35 MB), which covers nine in ten of the words people ask with.
Collections larger than ``max_passages`` are left as they are: their vocabulary would take minutes.
Measured on every labeled set in docs/benchmarks.md.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from qa.store.lexical import _TOKEN, fold, stopwords, tokenize

if TYPE_CHECKING:
    from qa.embed.embedder import Embedder
    from qa.store import Index


@dataclass(frozen=True)
class RelatedSettings:
    similarity: float = 0.5  # cosine from which a collection word stands for a question's word
    per_word: int = 2  # collection words added for each unmatched question word, at most
    max_passages: int = 50_000  # larger collections are searched with the question's own words only


ASKED_KEPT = 5_000  # question words whose vectors are kept, per collection

# Word vectors per embedding model, kept across the answerers a bot swaps in as documents come and go.
_VECTORS: "weakref.WeakKeyDictionary[object, dict[str, np.ndarray]]" = weakref.WeakKeyDictionary()
_VECTORS_LOCK = threading.Lock()


def words_of(text: str) -> list[str]:
    """The content words of ``text`` as written (lower-cased, accents folded), in order, once each."""
    stop = stopwords()
    return list(dict.fromkeys(w for w in _TOKEN.findall(fold(text)) if w.isalpha() and len(w) > 2 and w not in stop))


class RelatedWords:
    """Looks up, for the words of a question that no passage holds, the collection's nearest words."""

    def __init__(self, index: "Index", embedder: "Embedder", settings: RelatedSettings | None = None) -> None:
        self.index, self.embedder = index, embedder
        self.settings = settings or RelatedSettings()
        with _VECTORS_LOCK:
            self._known = _VECTORS.setdefault(embedder, {})
        self._lock = threading.Lock()
        self._asked: dict[str, np.ndarray] = {}
        self._words: list[str] | None = None
        self._matrix: np.ndarray | None = None

    @property
    def enabled(self) -> bool:
        return 0 < len(self.index.chunks) <= self.settings.max_passages

    def _vocabulary(self) -> tuple[list[str], np.ndarray]:
        with self._lock:
            if self._words is None:
                words = list(dict.fromkeys(w for c in self.index.chunks for w in words_of(c.text)))
                missing = [w for w in words if w not in self._known]
                if missing:
                    self._remember(missing, self.embedder.encode(missing, batch_size=256))
                self._matrix = (np.stack([self._known[w] for w in words]) if words
                                else np.zeros((0, 1), dtype=np.float32))
                self._words = words
            return self._words, self._matrix

    def _remember(self, words: list[str], vectors: np.ndarray) -> None:
        with _VECTORS_LOCK:
            self._known.update(zip(words, np.asarray(vectors, dtype=np.float32)))

    def _vectors(self, words: list[str]) -> np.ndarray:
        """A question's words: embedded ahead (``prepare``), or through the question encoder (a few
        milliseconds); the last few thousand asked are kept, so a word asked again costs nothing."""
        known = self._known
        new = [w for w in words if w not in known and w not in self._asked]
        if new:
            if len(self._asked) > ASKED_KEPT:
                self._asked.clear()
            self._asked.update(zip(new, np.asarray(self.embedder.encode_queries(new), dtype=np.float32)))
        return np.stack([known[w] if w in known else self._asked[w] for w in words])

    def prepare(self) -> None:
        """Embed the collection's words, then the model's whole words, now (a server does this at start,
        on a thread of its own): questions then rarely wait for a word to be embedded."""
        if not self.enabled:
            return
        self._vocabulary()
        stop = stopwords()
        ahead = [w for w in self.embedder.words() if len(w) > 2 and w not in stop and w not in self._known]
        for start in range(0, len(ahead), 512):  # in parts: a question asked meanwhile waits a fraction of a second
            part = ahead[start:start + 512]
            self._remember(part, self.embedder.encode(part, batch_size=256))

    def expand(self, question: str) -> list[str]:
        """BM25 tokens of the collection words that stand for the question's unmatched words."""
        if not self.enabled:
            return []
        asked = [(w, tokenize(w)) for w in words_of(question)]
        asked = [(w, t[0]) for w, t in asked if t]
        df = self.index.lexical.doc_freq([t for _, t in asked])
        unmatched = [w for w, t in asked if df.get(t, 0) == 0]
        if not unmatched:
            return []
        words, matrix = self._vocabulary()
        if not words:
            return []
        s = self.settings
        extra: list[str] = []
        for sims in self._vectors(unmatched) @ matrix.T:
            for i in np.argsort(-sims)[:s.per_word]:
                if sims[i] >= s.similarity:
                    extra += tokenize(words[i])
        return list(dict.fromkeys(extra))
