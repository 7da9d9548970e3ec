"""The collection's own words for a question's words that no passage holds, added to its BM25 search.

People ask in their own words: "Will the guarantee cover it?" of a page that says "warranty", "black
trash sacks" of one that says "rubbish bags". A word no passage holds scores nothing in BM25, so the
lexical vote goes to the passages that match the question's other, commoner words ("cover", "take"),
often in the wrong document. Each such word is looked up among the collection's words by meaning (the
embedding model, word by word), and the nearest ones above a similarity floor join the BM25 query. The
highlight reads only the words the person wrote; the passages' fused scores, which the judgement also
weighs, include the added words' BM25.

Names are looked up too: "Uber Eats" finds "delivery". A name no document mentions ("Vietnam" → "china")
still reaches the judge as the person wrote it, which reports it ("No document mentions Vietnam."). Words
of scripts written without spaces are left alone: BM25 reads them per character.

Costs, and where they fall:
- The collection's words are embedded on the first question that needs them, in parts, so other questions
  go on being encoded between them (a few seconds for a few thousand words on two cores). An index swapped
  in after an upload or a removal keeps the vectors it had and embeds only the new documents' words; a
  visitor's words stay with the visitor's session and go with it.
- A question's own unmatched words take one pass of the question encoder (about 3 ms), unless ``prepare``
  embedded them ahead: a server embeds the tokenizer's ~20,000 whole words at start, on a thread of its own
  (about ten seconds, ~35 MB, shared by every session), which covers nine in ten words people ask with.
- Collections larger than ``max_passages`` are searched with the question's own words only.

Measured on every labeled set in docs/benchmarks.md.
"""
from __future__ import annotations

import atexit
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


ASKED_KEPT = 5_000  # question words whose vectors a collection keeps, the most recent
PART = 256  # words embedded per model pass while a question may be waiting for the model

# The model's own whole words, embedded ahead by ``prepare``: per embedder, shared by every session.
_AHEAD: "weakref.WeakKeyDictionary[object, dict[str, np.ndarray]]" = weakref.WeakKeyDictionary()
_AHEAD_LOCK = threading.Lock()


# ``prepare`` runs on a thread of its own for seconds, inside the model: at exit it is stopped between two
# parts and waited for, or the interpreter would be torn down under it (a crash on the way out).
_STOP = threading.Event()
_PREPARING: set[threading.Thread] = set()


@atexit.register
def _stop_preparing() -> None:
    _STOP.set()
    for thread in list(_PREPARING):
        thread.join(timeout=30)


def terms_of(text: str) -> dict[str, str]:
    """The content words of ``text`` as written (lower-cased, accents folded), in order, once each, with
    the BM25 term each is read as: only words BM25 reads as one term (not Chinese, Japanese or Korean runs,
    which it reads per character). Each word is stemmed once, here."""
    stop, found = stopwords(), {}
    for w in dict.fromkeys(_TOKEN.findall(fold(text))):
        if w.isalpha() and len(w) > 2 and w not in stop:
            terms = tokenize(w)
            if len(terms) == 1:
                found[w] = terms[0]
    return found


def _ahead(embedder: "Embedder") -> dict[str, np.ndarray]:
    with _AHEAD_LOCK:
        return _AHEAD.setdefault(embedder, {})


class RelatedWords:
    """Looks up, for the words of a question that no passage holds, the collection's nearest words."""

    def __init__(self, index: "Index", embedder: "Embedder", settings: RelatedSettings | None = None,
                 previous: "RelatedWords | None" = None) -> None:
        self.index, self.embedder = index, embedder
        self.settings = settings or RelatedSettings()
        self._lock = threading.Lock()
        self._asked: dict[str, np.ndarray] = {}
        self._previous = previous  # an index swapped in keeps what the one before it had embedded
        self._words: list[str] | None = None
        self._terms: list[str] = []  # the BM25 term of each of ``_words``
        self._matrix: np.ndarray | None = None
        self._sources: frozenset[str] = frozenset()

    @property
    def enabled(self) -> bool:
        return 0 < len(self.index.chunks) <= self.settings.max_passages

    def _vocabulary(self) -> tuple[list[str], np.ndarray]:
        """The collection's BM25 terms, one per word, and the words' vectors, row for row."""
        with self._lock:
            if self._words is None:
                self._build()
            return self._terms, self._matrix

    def _build(self) -> None:
        """This collection's words and their vectors: the previous index's, and the new documents' words."""
        before = self._previous
        self._previous = None  # not a chain of every index the bot ever had
        words: list[str] = []
        terms: list[str] = []
        parts: list[np.ndarray] = []
        scanned: frozenset[str] = frozenset()
        if before is not None and before._words is not None:
            words, terms, parts, scanned = list(before._words), list(before._terms), [before._matrix], before._sources
        sources = frozenset(c.source for c in self.index.chunks)
        have = set(words)
        found: dict[str, str] = {}
        for c in self.index.chunks:
            if c.source not in scanned:
                found.update((w, t) for w, t in terms_of(c.text).items() if w not in have)
        new = list(found)
        ahead = _ahead(self.embedder)
        for start in range(0, len(new), PART):  # in parts: the model lock is let go between them
            if _STOP.is_set():
                break  # the process is ending
            part = new[start:start + PART]
            missing = [w for w in part if w not in ahead]
            vectors = dict(zip(missing, np.asarray(self.embedder.encode(missing, batch_size=PART, bf16=False), dtype=np.float32))) if missing else {}
            parts.append(np.stack([ahead[w] if w in ahead else vectors[w] for w in part]))
            words += part
            terms += [found[w] for w in part]
        self._words, self._terms, self._sources = words, terms, sources
        self._matrix = np.concatenate(parts) if parts else np.zeros((0, self.embedder.dimension), dtype=np.float32)

    def _vectors(self, words: list[str]) -> np.ndarray:
        """A question's words: embedded ahead (``prepare``), or through the question encoder (a few
        milliseconds); the last few thousand asked are kept, so a word asked again costs nothing."""
        ahead, asked = _ahead(self.embedder), self._asked
        found = {w: ahead.get(w, asked.get(w)) for w in words}
        new = [w for w, v in found.items() if v is None]
        if new:
            vectors = np.asarray(self.embedder.encode_queries(new), dtype=np.float32)
            found.update(zip(new, vectors))
            with self._lock:
                if len(asked) > ASKED_KEPT:
                    asked.clear()
                asked.update(zip(new, vectors))
        return np.stack([found[w] for w in words])

    def prepare(self) -> None:
        """Embed the model's whole words, then this collection's, now (a server does this at start, on a
        thread of its own): questions then rarely wait for a word to be embedded."""
        if not self.enabled:
            return
        me = threading.current_thread()
        _PREPARING.add(me)
        try:
            stop, ahead = stopwords(), _ahead(self.embedder)
            words = [w for w in self.embedder.words() if len(w) > 2 and w not in stop and w not in ahead]
            for start in range(0, len(words), PART):
                if _STOP.is_set():
                    return
                part = words[start:start + PART]
                vectors = np.asarray(self.embedder.encode(part, batch_size=PART, bf16=False), dtype=np.float32)
                with _AHEAD_LOCK:
                    ahead.update(zip(part, vectors))
            if not _STOP.is_set():
                self._vocabulary()
        finally:
            _PREPARING.discard(me)

    def expand(self, question: str) -> list[str]:
        """BM25 tokens of the collection words that stand for the question's unmatched words."""
        if not self.enabled:
            return []
        asked = terms_of(question)
        lexical = self.index.lexical
        df = lexical.doc_freq(list(asked.values()))
        unmatched = [w for w, t in asked.items() if df.get(t, 0) == 0]
        if not unmatched:
            return []
        terms, matrix = self._vocabulary()
        if not terms:
            return []
        s = self.settings
        candidates: list[str] = []
        for sims in self._vectors(unmatched) @ matrix.T:
            top = np.argpartition(-sims, min(s.per_word, len(sims) - 1))[:s.per_word + 1]
            candidates += [terms[i] for i in sorted(top, key=lambda i: -sims[i])[:s.per_word] if sims[i] >= s.similarity]
        # a question word's own term may come back too: it then weighs twice, as measured
        extra = list(dict.fromkeys(candidates))
        live = lexical.doc_freq(extra)  # a word only removed documents had is no help
        return [t for t in extra if live.get(t, 0) > 0]
