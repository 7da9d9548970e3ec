"""Check every sentence a language model wrote against the passages it cites.

A written sentence stands only if
1. it cites at least one of the numbered passages, and only passages that exist;
2. it states something (a bare word such as "HACKED" or "Yes" states nothing that can be checked);
3. every number it states, and every scale word (million, billion, percent …), is in a cited passage;
4. every name it states (capitalised words inside the sentence, acronyms) is in a cited passage,
   or the acronym is spelt out there ("HR": "human resources");
5. its meaning matches one sentence of a cited passage: the bot's own sentence vectors give a cosine
   of at least ``min_cosine``, or the sentence's words are mostly the passage's and the cosine is at
   least ``min_cosine_with_words``.

What this guarantees and what it does not is in docs/written-answers.md. In short: it catches
invented numbers and names, claims from passages the sentence does not cite, and claims with no
citation; it cannot tell a faithful paraphrase from a subtly wrong one that keeps the same words
(a negation, a swapped "more"/"less"), and it trusts the passages themselves.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from qa.answer.evidence import spells_out
from qa.answer.query import NOT_NAMES
from qa.ingest.chunking import sentence_spans
from qa.store.lexical import fold, stopwords, tokenize
from qa.types import Citation

_MARK = re.compile(r"\s*\[(\d{1,2}(?:\s*[,;]\s*\d{1,2})*)\]")
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[^a-z\s])|\n+")
_ABBREVIATION = re.compile(r"(?:\b(?:Dr|Mr|Mrs|Ms|Prof|St|Sr|Jr|Inc|Ltd|Co|Corp|No|vs|etc|approx|Fig|Jan|Feb|Mar|Apr|"
                           r"Aug|Sep|Sept|Oct|Nov|Dec)|\b[A-Z]|\be\.g|\bi\.e)\.$")
_DIGITS = re.compile(r"\d[\d,]*(?:\.\d+)?")
_SCALE = re.compile(r"\b(thousand|million|billion|trillion|percent|per cent|%)", re.I)
# A capitalised word inside a sentence, or an acronym anywhere: what a model invents when it invents a name.
_NAME = re.compile(r"(?<!^)(?<![.?!:]\s)(?<![\"“(]|\[)\b[A-Z][a-z][\w'-]*(?:\s+[A-Z][a-z][\w'-]*)*|\b[A-Z]{2,}[a-z]?s?\b")
_FIRST = re.compile(r"[\"“(]*([A-Z][a-z][\w'-]*(?:\s+[A-Z][a-z][\w'-]*)*)")
# Words that open sentences without naming anything (the stopword list has the rest).
_OPENERS = frozenset("""however overall both according although though while since because thus therefore also
yes no instead meanwhile still yet finally first second third today currently in on at as by for with from""".split())
_WORDS = {w: str(i) for i, w in enumerate("zero one two three four five six seven eight nine ten eleven twelve".split())}


@dataclass
class CheckSettings:
    min_cosine: float = 0.72  # a sentence this close in meaning to one cited sentence is supported …
    min_cosine_with_words: float = 0.5  # … or this close, if most of its words are the passage's
    min_words: float = 0.7  # the IDF-weighted share of its words that counts as "most"
    min_content_words: int = 2  # fewer than this states nothing


@dataclass
class SentenceCheck:
    """One written sentence and the verdict on it."""

    text: str  # as written, with its [n]
    claim: str  # without them
    cites: list[int]
    supported: bool
    reason: str = ""  # why not, in words; "" when supported
    cosine: float = 0.0  # closest cited sentence, in meaning
    evidence: tuple[int, int, int] | None = None  # (citation number, start, end in its passage) of that sentence

    def to_dict(self) -> dict:
        return {"text": self.text, "cites": self.cites, "supported": self.supported, "reason": self.reason,
                "cosine": round(self.cosine, 3)}


def split_written(text: str) -> list[tuple[str, str, list[int]]]:
    """(sentence as written, its claim without markers, the passage numbers it cites), in order.

    "… in 2023 [1]. Japan …" and "… in 2023. [1] Japan …" both give the [1] to the first sentence.
    """
    pieces = [p.strip() for p in _SPLIT.split(text.strip()) if p and p.strip()]
    out: list[list] = []
    for piece in pieces:
        lead = re.match(r"(?:\s*\[\d{1,2}(?:\s*[,;]\s*\d{1,2})*\])+", piece)
        if lead and out:  # markers opening a piece close the sentence before it
            out[-1][0] += " " + lead.group(0).strip()
            piece = piece[lead.end():].strip()
        if not piece:
            continue
        if out and not _MARK.search(out[-1][0]) and (_ABBREVIATION.search(out[-1][0]) or (
                len(tokenize(out[-1][0])) < 2 and not out[-1][0].endswith(("!", "?")))):
            out[-1][0] += " " + piece  # "Dr." or "U.S." split off by its full stop: join it to what follows
        else:
            out.append([piece])
    result = []
    for (written,) in out:
        cites = [int(n) for m in _MARK.finditer(written) for n in re.split(r"\s*[,;]\s*", m.group(1))]
        claim = re.sub(r"\s+([.,;:!?])", r"\1", " ".join(_MARK.sub(" ", written).split()))
        result.append((written, claim, list(dict.fromkeys(cites))))
    return result


def names_in(claim: str) -> list[str]:
    """Names a sentence states: capitalised words inside it and acronyms, and its first words when
    they are capitalised and not an ordinary opener ("Germany installed …", not "However, …")."""
    names = [n for n in _NAME.findall(claim) if n not in NOT_NAMES]
    m = _FIRST.match(claim)
    if m:
        words = m.group(1).split()
        while words and (words[0].lower() in _OPENERS or words[0].lower() in stopwords()):
            words.pop(0)
        if words:
            names.insert(0, " ".join(words))
    return names


def _numbers(text: str) -> set[str]:
    out = {m.group(0).replace(",", "").rstrip(".") for m in _DIGITS.finditer(text)}
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in _WORDS:
            out.add(_WORDS[word])
    return out


def _scales(text: str) -> set[str]:
    return {"percent" if s.lower() in ("%", "per cent") else s.lower() for s in _SCALE.findall(text)}


@dataclass
class Checker:
    """Checks written sentences; ``encode`` is the bot's embedder (vectors L2-normalised)."""

    encode: Callable[[list[str]], np.ndarray]
    idf: Callable[[list[str]], dict[str, float]] | None = None
    settings: CheckSettings = field(default_factory=CheckSettings)
    # A passage's sentences and their vectors as the index stores them (None: split and encode it here).
    stored: Callable[[Citation], tuple[list[tuple[int, int]], np.ndarray] | None] | None = None

    def check(self, text: str, citations: Sequence[Citation]) -> list[SentenceCheck]:
        by_number = {c.number: c for c in citations}
        sentences = split_written(text)
        flat: list[tuple[int, int, int]] = []
        known: list[np.ndarray] = []
        fresh: list[tuple[int, int, int]] = []
        for c in citations:  # every sentence of every passage: the index's vectors, else encoded below
            found = self.stored(c) if self.stored else None
            if found is not None and len(found[0]):
                flat += [(c.number, a, b) for a, b in found[0]]
                known.append(found[1])
            else:
                fresh += [(c.number, a, b) for a, b in sentence_spans(c.passage)]
        vectors = self.encode([by_number[n].passage[a:b] for n, a, b in fresh] + [claim for _, claim, _ in sentences])
        flat += fresh
        passage_vectors = np.vstack(known + [vectors[:len(fresh)]]) if known else vectors[:len(fresh)]
        claim_vectors = vectors[len(fresh):]
        return [self._one(written, claim, cites, by_number, flat, passage_vectors, claim_vectors[i])
                for i, (written, claim, cites) in enumerate(sentences)]

    def _one(self, written: str, claim: str, cites: list[int], by_number: dict[int, Citation],
             flat: list[tuple[int, int, int]], passage_vectors: np.ndarray, vector: np.ndarray) -> SentenceCheck:
        s = self.settings

        def verdict(reason: str, cosine: float = 0.0, evidence=None) -> SentenceCheck:
            return SentenceCheck(written, claim, cites, not reason, reason, cosine, evidence)

        if not cites:
            return verdict("cites no passage")
        missing = [n for n in cites if n not in by_number]
        if missing:
            return verdict(f"cites [{missing[0]}], which is not one of the passages")
        words = tokenize(claim)
        if len(words) < s.min_content_words:
            return verdict("states nothing that the passages could support")
        cited = " ".join(by_number[n].passage for n in cites)
        marks = "".join(f"[{n}]" for n in cites)
        absent = sorted(_numbers(claim) - _numbers(cited), key=claim.find)
        if absent:
            return verdict(f"states {absent[0]}, which {marks} does not")
        absent = sorted(_scales(claim) - _scales(cited))
        if absent:
            return verdict(f"says {absent[0]}, which {marks} does not")
        cited_tokens = set(tokenize(cited))
        for name in names_in(claim):
            if not set(tokenize(name)) <= cited_tokens and not spells_out(name, cited) \
                    and fold(name).lower() not in fold(cited).lower():
                return verdict(f"names {name}, which {marks} does not")
        rows = [i for i, (n, _, _) in enumerate(flat) if n in cites]
        if not rows:
            return verdict(f"{marks} has no sentence to compare with")
        cosines = passage_vectors[rows] @ vector
        best = int(np.argmax(cosines))
        cosine = float(cosines[best])
        evidence = flat[rows[best]]
        if cosine >= s.min_cosine:
            return verdict("", cosine, evidence)
        if cosine >= s.min_cosine_with_words and self._share(words, cited_tokens) >= s.min_words:
            return verdict("", cosine, evidence)
        return verdict(f"does not match what {marks} says", cosine, evidence)

    def _share(self, words: list[str], found: set[str]) -> float:
        weights = self.idf(words) if self.idf else {}
        total = sum(weights.get(w, 1.0) for w in words)
        return sum(weights.get(w, 1.0) for w in words if w in found) / total if total else 0.0
