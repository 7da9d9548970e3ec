"""Choose the fusion weights for one collection, without labels, when it is indexed.

Weights tuned on one collection do not carry over to another: where the words of questions
and documents match poorly (entity search, paraphrase), BM25's vote misleads and the dense
half should carry the ranking; where they match well (SQuAD), BM25 is the stronger half.

Pseudo-queries cut from the collection's own text would always favour BM25, because they
copy the document's words. So the pseudo-queries follow the Inverse Cloze Task (Lee, Chang
and Toutanova, 2019, "Latent Retrieval for Weakly Supervised Open Domain Question
Answering"): a sentence is the query, and its passage *with that sentence removed* is the
answer. The passage must then be found by what the rest of it says about the same thing, in
other words, which is what a real question asks of it. The chosen weights are those that
rank the masked passages best, kept only when they beat the defaults by a clear margin.
"""
from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Callable

import numpy as np

from qa.answer.retrieval import FusionSettings
from qa.store import Index, embed_text
from qa.store import sample as index_sample
from qa.store.lexical import bm25_score as _bm25
from qa.store.lexical import tokenize

log = logging.getLogger(__name__)

CALIBRATION_VERSION = 2
# (passage, sentence, lexical): from all-dense to lexical-heavy. The default is first, and it
# wins ties: a collection moves away from it only on evidence.
GRID: tuple[tuple[float, float, float], ...] = (
    (0.50, 0.20, 0.30), (0.60, 0.20, 0.20), (0.70, 0.20, 0.10), (0.55, 0.30, 0.15), (0.80, 0.20, 0.00),
    (0.40, 0.20, 0.40), (0.30, 0.20, 0.50),
)
MIN_PASSAGES = 300  # below this, too little text to learn from: keep the defaults
SAMPLE_PASSAGES = 50_000  # a larger collection is calibrated on whole documents drawn up to this many passages


@dataclass(frozen=True)
class Calibration:
    """What ``calibrate`` chose for a collection, and the figures behind the choice."""

    passage: float
    sentence: float
    lexical: float
    queries: int = 0  # pseudo-queries asked
    passages: int = 0  # the collection's size when calibrated
    mrr: dict[str, float] = field(default_factory=dict)  # MRR@10 of each weighting tried, "p/s/l" → MRR
    seconds: float = 0.0
    reason: str = ""  # why these weights (or why the defaults were kept)

    @property
    def weights(self) -> tuple[float, float, float]:
        return self.passage, self.sentence, self.lexical

    def fusion(self, base: FusionSettings | None = None) -> FusionSettings:
        from dataclasses import replace

        return replace(base or FusionSettings(), passage=self.passage, sentence=self.sentence, lexical=self.lexical)

    def to_dict(self) -> dict:
        return {"version": CALIBRATION_VERSION, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict | None) -> "Calibration | None":
        if not d or d.get("version") != CALIBRATION_VERSION:
            return None
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in d.items() if k in known})
        except TypeError:  # written by another version: calibrate again
            return None

    def summary(self) -> str:
        """One line for ``qa index``."""
        w = "/".join(f"{x:g}" for x in self.weights)
        if not self.queries:
            return f"Calibration: default weights {w} (passage/sentence/lexical): {self.reason}."
        best, default = self.mrr.get(_label(self.weights), 0.0), self.mrr.get(_label(GRID[0]), 0.0)
        return (f"Calibration: weights {w} (passage/sentence/lexical) from {self.queries} pseudo-queries in "
                f"{self.seconds:.1f} s, MRR@10 {best:.3f} (defaults {default:.3f}): {self.reason}.")


def _label(w: tuple[float, float, float]) -> str:
    return "/".join(f"{x:g}" for x in w)


def default(reason: str, passages: int = 0) -> Calibration:
    return Calibration(*GRID[0], passages=passages, reason=reason)


def calibrate(index: Index, encode: Callable[..., np.ndarray], queries: int = 200, seed: int = 0,
              margin: float = 0.01, min_passages: int | None = None) -> Calibration:
    """Weights for ``index`` from ``queries`` Inverse-Cloze pseudo-queries (bounded: cost does not grow
    with the collection beyond one matrix product per query). ``margin``: the MRR@10 gain over the
    defaults that a change of weights must show."""
    t0 = time.perf_counter()
    if len(index.chunks) > SAMPLE_PASSAGES or index.layers is not None:
        # Each pseudo-query is scored against every passage and sentence: past this size, a sample
        # of whole documents ranks the weightings as the whole collection would, at a bounded cost.
        sample = _sample(index, SAMPLE_PASSAGES, seed)
        chosen = calibrate(sample, encode, queries, seed, margin, min_passages)
        return replace(chosen, passages=index.passages, seconds=round(time.perf_counter() - t0, 2),
                       reason=f"{chosen.reason} (on {len(sample.chunks):,} passages of documents drawn at random)")
    min_passages = MIN_PASSAGES if min_passages is None else min_passages
    if len(index.chunks) < min_passages:
        return default(f"fewer than {min_passages} passages to learn from", len(index.chunks))
    picks = _pick_sentences(index, queries, seed)
    if len(picks) < 20:
        return default("too few sentences to ask back", len(index.chunks))
    ix = index
    texts = [_sentence_text(ix, sid) for sid in picks]
    q_vectors = np.asarray(ix.sentence_vectors[picks], dtype=np.float32)  # each sentence as the index embedded it
    # Each target passage with the query sentence cut out, embedded as the index embeds passages.
    masked_chunks = [list(range(int(ix.sentences[sid][3]), int(ix.sentences[sid][4]) + 1)) for sid in picks]
    masked_texts, owners = [], []
    for n, (sid, chunks) in enumerate(zip(picks, masked_chunks)):
        for ci in chunks:
            masked_texts.append(_without(ix, ci, sid))
            owners.append((n, ci))
    with_title = ix.settings.title_in_embedding
    if ix.sums is not None:
        # Summed passage vectors: the passage without the sentence is its sum without the sentence's
        # token vectors, exactly as the index would have made it; nothing to embed.
        sums, norms = ix.sums
        m_vectors = np.stack([ix.chunk_vectors[ci] * norms[ci] - sums[picks[n]] for n, ci in owners]) if owners else np.zeros((0, 1))
        m_vectors /= np.maximum(np.linalg.norm(m_vectors, axis=1, keepdims=True), 1e-9)
    else:
        m_vectors = encode([embed_text(ix.chunks[ci].title, t, with_title) for t, (_, ci) in zip(masked_texts, owners)])
    masked: dict[int, list[tuple[int, np.ndarray, list[str]]]] = {}
    for t, (n, ci), v in zip(masked_texts, owners, m_vectors):
        masked.setdefault(n, []).append((ci, v, tokenize(f"{ix.chunks[ci].title}\n{t}" if with_title else t)))

    doc_of = ix.chunks.doc.astype(np.int64)
    lengths = ix.chunk_sentences.lengths()
    avgdl = float(np.mean([len(t) for t in ix.terms])) if ix.terms else 1.0
    rr = {w: [] for w in GRID}
    for n, (sid, qv, text) in enumerate(zip(picks, q_vectors, texts)):
        tokens = tokenize(text)
        passage = ix.chunk_vectors @ qv
        sims = ix.sentence_vectors @ qv
        sims[sid] = -1.0  # the sentence asked back is not there to be found
        lexical = ix.lexical.scores(tokens).astype(np.float64)
        idf = _idf(ix, tokens)
        for ci, v, terms in masked[n]:
            passage[ci] = float(v @ qv)
            lexical[ci] = _bm25(tokens, terms, idf, avgdl)
        depth = min(50, len(ix.chunks))
        cand = set(np.argpartition(-passage, depth - 1)[:depth].tolist())
        cand.update(np.argpartition(-lexical, depth - 1)[:depth].tolist())
        for s in np.argpartition(-sims, min(100, len(sims)) - 1)[:100]:
            cand.update(range(int(ix.sentences[s][3]), int(ix.sentences[s][4]) + 1))
        cand.update(ci for ci, _, _ in masked[n])
        cand_arr = np.fromiter(cand, dtype=np.int64)
        best_sentence = np.array([sims[ix.chunk_sentences[c]].max() if lengths[c] else passage[c] for c in cand_arr])
        top = lexical[cand_arr].max()
        lex = lexical[cand_arr] / top if top > 0 else np.zeros(len(cand_arr))
        target = int(ix.sentences[sid][0])
        docs = doc_of[cand_arr]
        for w in GRID:
            fused = w[0] * passage[cand_arr] + w[1] * best_sentence + w[2] * lex
            order = docs[np.argsort(-fused, kind="stable")]
            ranked = list(dict.fromkeys(order.tolist()))[:10]
            rr[w].append(1 / (ranked.index(target) + 1) if target in ranked else 0.0)
    mrr = {w: float(np.mean(v)) for w, v in rr.items()}
    best = max(GRID, key=lambda w: (mrr[w], w == GRID[0]))
    gains = np.asarray(rr[best]) - np.asarray(rr[GRID[0]])
    noise = 2 * float(gains.std(ddof=1)) / math.sqrt(len(gains)) if len(gains) > 1 else 0.0
    if best == GRID[0] or gains.mean() <= max(margin, noise):
        # Two standard errors of the paired gain: a difference a re-draw of the pseudo-queries
        # could undo is no reason to move away from weights measured on real questions.
        best, reason = GRID[0], "no weighting beat the defaults by more than chance"
    else:
        reason = f"they beat the defaults by {gains.mean():.3f} (two standard errors: {noise:.3f})"
    return Calibration(*best, queries=len(picks), passages=len(ix.chunks), mrr={_label(w): round(m, 4) for w, m in mrr.items()},
                       seconds=round(time.perf_counter() - t0, 2), reason=reason)


def stale(previous: dict | None, passages: int) -> bool:
    """Whether a collection of ``passages`` needs a new calibration: none yet, or the collection is
    no longer within 10% of the size it was calibrated at (adding one file does not cost one)."""
    prior = Calibration.from_dict(previous)
    if prior is None or abs(passages - prior.passages) > 0.1 * max(prior.passages, 1):
        return True
    return not prior.queries and passages >= MIN_PASSAGES  # was too small to learn from, is not now


def keep_or_redo(index: Index, encode: Callable[..., np.ndarray], previous: dict | None = None,
                 on_start: Callable[[], None] | None = None) -> Calibration:
    """Store a calibration in ``index.manifest``: ``previous`` unless it is stale, else a new one
    (``on_start`` is called first when pseudo-queries will be asked)."""
    if not stale(previous, index.passages):
        chosen = Calibration.from_dict(previous)
    else:
        if on_start is not None and index.passages >= MIN_PASSAGES:
            on_start()
        chosen = calibrate(index, encode)
    index.manifest["calibration"] = chosen.to_dict()
    index.sums = None  # needed by nothing else: free them
    return chosen


def fusion_for(index: Index, base: FusionSettings | None = None) -> FusionSettings:
    """The fusion settings the collection was calibrated to (the defaults when it was not)."""
    chosen = Calibration.from_dict(index.manifest.get("calibration"))
    return chosen.fusion(base) if chosen is not None else (base or FusionSettings())


def _pick_sentences(ix: Index, n: int, seed: int) -> list[int]:
    """Up to ``n`` sentences of 8 to 40 words, spread over the documents (one per document in
    turn), each in a passage that has other sentences (the rest of the passage is what finds it)."""
    rng = random.Random(seed)
    by_doc: dict[int, list[int]] = {}
    for sid, row in enumerate(ix.sentences):
        by_doc.setdefault(int(row[0]), []).append(sid)
    docs = list(by_doc)
    rng.shuffle(docs)
    pools = []
    for d in docs[:n]:
        sids = [s for s in by_doc[d] if 8 <= len(_sentence_text(ix, s).split()) <= 40
                and len(ix.chunk_sentences[int(ix.sentences[s][3])]) >= 3]
        rng.shuffle(sids)
        if sids:
            pools.append(sids)
    picks: list[int] = []
    for round_ in range(max((len(p) for p in pools), default=0)):
        picks.extend(p[round_] for p in pools if round_ < len(p))
        if len(picks) >= n:
            break
    return picks[:n]


def _sample(ix: Index, passages: int, seed: int) -> Index:
    """Whole documents drawn at random from ``ix``, up to ``passages`` passages, with float32 vectors."""
    sample = index_sample(ix, passages, seed)
    # float32 once: every pseudo-query multiplies all of them
    return replace(sample, chunk_vectors=sample.chunk_vectors.astype(np.float32, copy=False),
                   sentence_vectors=sample.sentence_vectors.astype(np.float32, copy=False))


def _sentence_text(ix: Index, sid: int) -> str:
    d, a, b = (int(x) for x in ix.sentences[sid][:3])
    return ix.docs[d].text[a:b]


def _without(ix: Index, ci: int, sid: int) -> str:
    c = ix.chunks[ci]
    _, a, b = (int(x) for x in ix.sentences[sid][:3])
    a, b = max(a, c.start) - c.start, min(b, c.end) - c.start
    return (c.text[:max(0, a)] + " " + c.text[max(0, b):]).strip()


def _idf(ix: Index, tokens: list[str]) -> dict[str, float]:
    """The IDF of the tokens some chunk has (the others score nothing in BM25)."""
    known = set(ix.lexical.known(tokens))
    return {t: v for t, v in ix.lexical.idf(tokens).items() if t in known}


