"""Turn retrieval hits into an answer: fold in the chat history, highlight the
answering sentence of each passage, decide whether to abstain, write the text."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .index import Index
from .lexical import tokenize
from .retrieval import Hit
from .types import Answer, Citation

# A follow-up leans on the previous turn when it opens with a connective or
# points back with a pronoun; otherwise it is searched on its own, so that a
# change of topic is not dragged back to the old one.
_CONNECTIVE = re.compile(r"^\s*(and|but|also|so|what about|how about|then|or)\b", re.I)
_POINTER = re.compile(r"\b(it|its|it's|they|them|their|theirs|that|those|this|these|he|him|his|she|her|there|one|ones|same|figure|number)\b", re.I)


@dataclass(frozen=True)
class AnswerSettings:
    """Abstain when the best evidence is weaker than these; tuned in bench/README.md."""

    min_sentence: float = 0.35  # cosine of the best sentence, on its own
    min_support: float = 0.50  # blend of sentence cosine and query-term coverage
    lexical_weight: float = 0.30  # weight of query-term coverage when picking the highlight
    max_answer_sentences: int = 2


@dataclass(frozen=True)
class Query:
    """What is searched: ``text`` is embedded; ``tokens`` go to BM25; ``focus`` are the current turn's terms."""

    question: str
    text: str
    tokens: list[str]
    focus: list[str]


def fold_history(question: str, history: list[dict] | None) -> Query:
    """Make a follow-up such as "And China's?" searchable by adding the previous question."""
    focus = tokenize(question)
    previous = [m.get("content", "") for m in (history or []) if isinstance(m, dict) and m.get("role") == "user"]
    previous = [p for p in previous if isinstance(p, str) and p.strip()]
    if previous and (_CONNECTIVE.search(question) or _POINTER.search(question) or len(focus) < 3):
        before = previous[-1].strip()
        # Current terms count twice in BM25: they say what is asked now.
        return Query(question, f"{before} {question}", focus * 2 + tokenize(before), focus)
    return Query(question, question, focus, focus)


def _idf(index: Index, tokens: list[str]) -> dict[str, float]:
    n = max(1, index.lexical.num_docs)
    return {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in index.lexical.doc_freq(sorted(set(tokens))).items()}


def coverage(tokens: set[str], idf: dict[str, float], focus: list[str]) -> float:
    """IDF-weighted share of the question's terms found in ``tokens``."""
    total = sum(idf.get(t, 0.0) for t in set(focus))
    if total <= 0:
        return 0.0
    return sum(idf.get(t, 0.0) for t in set(focus) if t in tokens) / total


@dataclass
class _Evidence:
    hit: Hit
    start: int  # highlight, absolute offsets in the document
    end: int
    cosine: float
    support: float


class Composer:
    def __init__(self, index: Index, settings: AnswerSettings | None = None) -> None:
        self.index = index
        self.settings = settings or AnswerSettings()

    def highlight(self, hit: Hit, query_vector: np.ndarray, idf: dict[str, float], focus: list[str]) -> _Evidence:
        """The sentence of the passage that best answers: meaning first, then the question's words."""
        ix, s = self.index, self.settings
        chunk = ix.chunks[hit.chunk]
        sids = ix.chunk_sentences[hit.chunk]
        if not len(sids):
            return _Evidence(hit, chunk.start, chunk.end, hit.passage, hit.passage)
        best = None
        cosines = ix.sentence_vectors[sids] @ query_vector
        for sid, cos in zip(sids, cosines):
            _, a, b, _, _ = ix.sentences[sid]
            a, b = max(int(a), chunk.start), min(int(b), chunk.end)
            text = chunk.text[a - chunk.start:b - chunk.start]
            cov = coverage(set(tokenize(text)), idf, focus)
            score = (1 - s.lexical_weight) * float(cos) + s.lexical_weight * cov
            if best is None or score > best[0]:
                best = (score, a, b, float(cos))
        score, a, b, cos = best
        return _Evidence(hit, a, b, cos, score)

    def compose(self, query: Query, query_vector: np.ndarray, hits: list[Hit]) -> Answer:
        ix, s = self.index, self.settings
        idf = _idf(ix, query.focus)
        evidence = [self.highlight(h, query_vector, idf, query.focus) for h in hits]
        citations = []
        for n, ev in enumerate(evidence, start=1):
            c = ix.chunks[ev.hit.chunk]
            citations.append(Citation(
                number=n, source=c.source, title=c.title, passage=c.text, start=c.start, end=c.end,
                score=round(ev.hit.score, 4), highlight=c.text[ev.start - c.start:ev.end - c.start],
                highlight_start=ev.start - c.start,
            ))
        if not evidence or self.should_abstain(evidence):
            return Answer(question=query.question, text=not_found_text(len(citations)), citations=citations,
                          abstained=True, query=query.text)
        return Answer(question=query.question, text=self.answer_text(evidence, citations), citations=citations,
                      abstained=False, query=query.text)

    def should_abstain(self, evidence: list[_Evidence]) -> bool:
        top = evidence[0]
        return top.cosine < self.settings.min_sentence or top.support < self.settings.min_support

    def answer_text(self, evidence: list[_Evidence], citations: list[Citation]) -> str:
        """The best highlight, then at most one more that is nearly as good and says something else."""
        parts = [f"{citations[0].highlight} [1]"]
        best = evidence[0].support
        used = {citations[0].highlight}
        for ev, cit in zip(evidence[1:], citations[1:]):
            if len(parts) >= self.settings.max_answer_sentences:
                break
            if ev.support >= 0.9 * best and cit.highlight not in used:
                parts.append(f"{cit.highlight} [{cit.number}]")
                used.add(cit.highlight)
        return " ".join(parts)


def not_found_text(n: int) -> str:
    if n == 0:
        return "Not found in the corpus: it has no passage that answers this question."
    return (f"Not found in the corpus: none of its passages answers this question. "
            f"The {n} closest passage{'s are' if n > 1 else ' is'} listed below, in case one helps.")
