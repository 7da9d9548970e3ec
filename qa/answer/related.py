"""The collection's own words for a question's words that no passage holds, added to its BM25 search.

People ask in their own words: "Will the guarantee cover it?" of a page that says "warranty", "black
trash sacks" of one that says "rubbish bags". A word no passage holds scores nothing in BM25, so the
lexical vote goes to the passages that match the question's other, commoner words ("cover", "take"),
often in the wrong document. Each such word is looked up among the collection's words by meaning (the
embedding model, word by word), and the nearest ones above a similarity floor join the BM25 query. The
highlight reads only the words the person wrote; the passages' fused scores, which the judgement also
weighs, include the added words' BM25.

A word the documents write with a hyphen ("wifi" of a page that says "Wi-Fi", which BM25 reads as "wi" and "fi")
is searched by its parts, and is not a word they lack (``compounds_of``).

Names are looked up too: "Uber Eats" finds "delivery". A name no document mentions ("Vietnam" → "china")
still reaches the judge as the person wrote it, which reports it ("No document mentions Vietnam."). Words
of scripts written without spaces are left alone: BM25 reads them per character.

Costs, and where they fall:
- The collection's words are embedded on the first question that needs them, in parts, so other questions
  go on being encoded between them (about five seconds for the shipped corpus's 1,900 words on two cores). A
  collection of more than ``inline_passages`` new passages has them embedded on a thread of their own instead:
  its first questions are searched with their own words, not kept waiting for a minute. An index swapped
  in after an upload or a removal keeps the vectors it had and embeds only the new documents' words; a
  visitor's words stay with the visitor's session and go with it.
- A question's own unmatched words take one pass of the question encoder (about 3 ms), unless ``prepare``
  embedded them ahead: a server embeds the collection's words at start, on a thread of its own, then the
  tokenizer's ~20,000 whole words (about ten seconds, ~35 MB, shared by every session), which cover nine in
  ten words people ask with.
- Collections larger than ``max_passages`` are searched with the question's own words only.

Measured on every labeled set in docs/benchmarks.md.
"""
from __future__ import annotations

import atexit
import logging
import re
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

import numpy as np

from qa.store.lexical import _TOKEN, fold, stopwords, tokenize, uncontract

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from qa.embed.embedder import Embedder
    from qa.store import Index



@dataclass(frozen=True)
class RelatedSettings:
    similarity: float = 0.5  # cosine from which a collection word stands for a question's word
    per_word: int = 2  # collection words added for each unmatched question word, at most
    max_passages: int = 50_000  # larger collections are searched with the question's own words only
    # A collection with more new passages than this (a few thousand words, seconds to embed on two cores) has
    # its words embedded on a thread of their own: its first questions, meanwhile, are searched with their
    # own words rather than waiting for them (``prepare`` waits).
    inline_passages: int = 1_000


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
    for w in dict.fromkeys(_TOKEN.findall(uncontract(fold(text)))):
        if w.isalpha() and len(w) > 2 and w not in stop:
            terms = tokenize(w)
            if len(terms) == 1:
                found[w] = terms[0]
    return found


_COMPOUND = re.compile(r"\b[^\W_]+(?:-[^\W_]+)+\b")


def compounds_of(folded: Iterable[str], known: dict[str, list[str]] | None = None) -> dict[str, list[str]]:
    """The hyphenated words of ``folded`` texts (``fold``) as one word's BM25 term ("Wi-Fi" → "wifi",
    "e-bikes" → "ebik"), each with the terms of its parts: a person types "wifi" of a page that writes "Wi-Fi",
    and BM25 reads that as "wi" and "fi". ``known``: those found before, kept."""
    found = dict(known or {})
    for compound in dict.fromkeys(m.group(0) for text in folded for m in _COMPOUND.finditer(text)):
        joined = _joined_term(compound)
        if joined is not None and joined not in found:
            found[joined] = tokenize(compound)
    return found


def _joined_term(compound: str) -> str | None:
    """A hyphenated word's BM25 term when written as one word ("wi-fi" → "wifi"), if it is one. Not "3-4" or
    "COVID-19": a question's words are looked up only when they are letters (``terms_of``)."""
    word = compound.replace("-", "")
    joined = tokenize(word) if word.isalpha() else []
    return joined[0] if len(joined) == 1 else None


def joined_of(question: str) -> dict[str, list[str]]:
    """The question's hyphenated words read as one word's BM25 term, each with the words it joins ("e-mail" →
    {"email": ["e", "mail"]}): the reverse of ``compounds_of``, for a person who types "e-mail" or "wi-fi" of
    a page that writes "email" or "wifi"."""
    found: dict[str, list[str]] = {}
    for m in _COMPOUND.finditer(fold(question)):
        joined = _joined_term(m.group(0))
        if joined is not None:
            found.setdefault(joined, m.group(0).split("-"))
    return found


_WHOLE: "weakref.WeakKeyDictionary[object, frozenset[str]]" = weakref.WeakKeyDictionary()


def _whole_words(embedder: "Embedder") -> frozenset[str]:
    """The model tokenizer's whole words (``Embedder.words``), read once per embedder."""
    with _AHEAD_LOCK:
        if embedder not in _WHOLE:
            _WHOLE[embedder] = frozenset(embedder.words())
        return _WHOLE[embedder]


def _parts(words: list[str], progress: bool, desc: str) -> Iterator[list[str]]:
    """``words`` in parts of ``PART``, under a bar when ``progress``; none more once the process is ending."""
    bar = None
    if progress and words:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(words), desc=desc, unit="word")
    try:
        for start in range(0, len(words), PART):
            if _STOP.is_set():
                return
            yield words[start:start + PART]
            if bar is not None:
                bar.update(min(PART, len(words) - start))
    finally:
        if bar is not None:
            bar.close()


def _ahead(embedder: "Embedder") -> dict[str, np.ndarray]:
    with _AHEAD_LOCK:
        return _AHEAD.setdefault(embedder, {})


@dataclass(frozen=True)
class _Vocabulary:
    """A collection's words, their BM25 terms and vectors (row for row), and the documents they were read
    from: published whole, so a reader on another thread never sees half of it."""

    words: list[str]
    terms: list[str]
    matrix: np.ndarray
    sources: frozenset[str]
    compounds: dict[str, list[str]] = field(default_factory=dict)  # "wifi" → the terms of "Wi-Fi" (``compounds_of``)


class RelatedWords:
    """Looks up, for the words of a question that no passage holds, the collection's nearest words."""

    def __init__(self, index: "Index", embedder: "Embedder", settings: RelatedSettings | None = None,
                 previous: "RelatedWords | None" = None) -> None:
        self.index, self.embedder = index, embedder
        self.settings = settings or RelatedSettings()
        self._lock = threading.Lock()
        self._asked: dict[str, np.ndarray] = {}
        self._previous = previous  # an index swapped in keeps what the one before it had embedded
        self._vocab: _Vocabulary | None = None
        self._thread: threading.Thread | None = None  # a large collection's words, embedded behind the questions

    @property
    def enabled(self) -> bool:
        return 0 < len(self.index.chunks) <= self.settings.max_passages

    @property
    def _words(self) -> list[str] | None:
        vocab = self._vocab
        return None if vocab is None else vocab.words

    def _vocabulary(self, wait: bool = False, progress: bool = False) -> _Vocabulary | None:
        """The collection's words and their vectors; or None while a large collection's (more than
        ``inline_passages`` new passages) are being embedded on a thread of their own, unless ``wait``,
        which waits for that thread without holding up the questions meanwhile. ``progress``: a bar (the CLI)."""
        with self._lock:
            if self._vocab is None and self._thread is None:
                if self._new_passages() <= self.settings.inline_passages:
                    self._vocab = self._build(progress)
                else:
                    self._thread = threading.Thread(target=self._build_behind, args=(progress,), name="qa-collection-words",
                                                    daemon=True)
                    self._thread.start()
            thread = self._thread
        if self._vocab is None and wait and thread is not None:
            thread.join()
        return self._vocab

    def _new_passages(self) -> int:
        before = self._previous
        vocab = before._vocab if before is not None else None
        scanned = vocab.sources if vocab is not None else frozenset()
        return sum(c.source not in scanned for c in self.index.chunks)

    def _build_behind(self, progress: bool = False) -> None:
        me = threading.current_thread()
        _PREPARING.add(me)
        try:
            self._vocab = self._build(progress)  # without the lock: questions meanwhile go on with their own words
        except Exception as err:  # noqa: BLE001 - questions go on with their own words
            log.warning("The collection's words could not be embedded (%s): questions are searched with their own words", err)
            with self._lock:
                self._thread = None  # the next question tries again
        finally:
            _PREPARING.discard(me)

    def _build(self, progress: bool = False) -> _Vocabulary:
        """This collection's words and their vectors: the previous index's, and the new documents' words."""
        before = self._previous
        if before is not None and before._thread is not None:
            before._thread.join()  # an index swapped in while the one before was still embedding: its words first
        old = before._vocab if before is not None else None
        words: list[str] = list(old.words) if old is not None else []
        terms: list[str] = list(old.terms) if old is not None else []
        parts: list[np.ndarray] = [old.matrix] if old is not None else []
        scanned = old.sources if old is not None else frozenset()
        sources = frozenset(c.source for c in self.index.chunks)
        have = set(words)
        # every word once, then each stemmed once: not once per passage that holds it
        folded = [uncontract(fold(c.text)) for c in self.index.chunks if c.source not in scanned]
        written = dict.fromkeys(w for text in folded for w in _TOKEN.findall(text))
        found = {w: t for w, t in terms_of(" ".join(written)).items() if w not in have}
        new = list(found)
        ahead = _ahead(self.embedder)
        for part in _parts(new, progress, "Embedding the collection's words"):  # the model lock is let go between parts
            missing = [w for w in part if w not in ahead]
            vectors = dict(zip(missing, np.asarray(self.embedder.encode(missing, batch_size=PART, bf16=False), dtype=np.float32))) if missing else {}
            parts.append(np.stack([ahead[w] if w in ahead else vectors[w] for w in part]))
            words += part
            terms += [found[w] for w in part]
        matrix = np.concatenate(parts) if parts else np.zeros((0, self.embedder.dimension), dtype=np.float32)
        compounds = compounds_of(folded, old.compounds if old is not None else None)
        self._previous = None  # not a chain of every index the bot ever had
        return _Vocabulary(words, terms, matrix, sources, compounds)

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

    def prepare(self, progress: bool = False) -> None:
        """Embed this collection's words, then the model's whole words, now (a server does this at start, on
        a thread of its own): questions then rarely wait for a word to be embedded. The collection's come
        first: they are fewer, and every question with a word no passage holds needs them. ``progress``: bars
        (the CLI)."""
        if not self.enabled:
            return
        me = threading.current_thread()
        _PREPARING.add(me)
        try:
            self._vocabulary(wait=True, progress=progress)
            stop, ahead = stopwords(), _ahead(self.embedder)
            words = [w for w in self.embedder.words() if len(w) > 2 and w not in stop and w not in ahead]
            for part in _parts(words, progress, "Embedding the model's words"):
                vectors = np.asarray(self.embedder.encode(part, batch_size=PART, bf16=False), dtype=np.float32)
                with _AHEAD_LOCK:
                    ahead.update(zip(part, vectors))
        finally:
            _PREPARING.discard(me)

    def expand(self, question: str) -> Related:
        """The collection's words for the question's unmatched ones, and the question's words that the
        collection has nothing for."""
        if not self.enabled:
            return Related()
        asked = terms_of(question)
        lexical = self.index.lexical
        joined = joined_of(question)
        df = lexical.doc_freq(list(asked.values()) + list(joined))
        # "e-mail" of a page that writes "email": the joined word is searched, and its parts are not missing
        glued = [t for t in joined if df.get(t, 0) > 0 and t not in asked.values()]
        parts = {w for t in glued for w in joined[t]}
        unmatched = [w for w, t in asked.items() if df.get(t, 0) == 0 and w not in parts]
        if not unmatched:
            return Related(glued)
        vocab = self._vocabulary()
        if vocab is None or not vocab.words:
            return Related(glued)  # a large collection's words are still being embedded, or it has none
        terms, matrix = vocab.terms, vocab.matrix
        s = self.settings
        # "wifi" of a page that writes "Wi-Fi": its parts are searched, and it is not a word the documents lack
        found: dict[str, list[str]] = {w: vocab.compounds[asked[w]] for w in unmatched if asked[w] in vocab.compounds}
        unmatched = [w for w in unmatched if w not in found]
        for word, sims in zip(unmatched, self._vectors(unmatched) @ matrix.T if unmatched else ()):
            top = np.argpartition(-sims, min(s.per_word, len(sims) - 1))[:s.per_word + 1]
            found[word] = [terms[i] for i in sorted(top, key=lambda i: -sims[i])[:s.per_word] if sims[i] >= s.similarity]
        # a question word's own term may come back too: it then weighs twice, as measured
        extra = list(dict.fromkeys(t for near in found.values() for t in near))
        live = lexical.doc_freq(extra)  # a word only removed documents had is no help
        # Named in a warning ("No document uses the word “sauna”."), only words rarer than the model's own whole words
        # ("Money's tight at the moment": "moment" is in no passage, but it is not what is asked about), and not
        # a misspelling of a word the documents have ("deisel"). A model whose tokenizer lists no whole words
        # (not WordPiece) cannot tell the rarer ones: none is named.
        common = _whole_words(self.embedder)
        absent = [w for w, near in found.items() if common and not any(live.get(t, 0) for t in near)
                  and w not in common and not lexical.near(asked[w])]
        if absent:  # as the person wrote them ("crème", not "creme")
            spelt = {fold(w): w for w in _TOKEN.findall(question)}
            absent = [spelt.get(w, w) for w in absent]
        return Related(list(dict.fromkeys(glued + [t for t in extra if live.get(t, 0) > 0])), absent)


@dataclass(frozen=True)
class Related:
    """What ``RelatedWords.expand`` found for a question."""

    terms: list[str] = field(default_factory=list)  # BM25 tokens of the collection's words for its unmatched words
    # its rarer words (not among the model's whole words), as written, that no passage holds, nor anything like them
    absent: list[str] = field(default_factory=list)
