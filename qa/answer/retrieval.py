"""Hybrid search: a store's candidates (dense passages, dense sentences, BM25) fused into one ranking,
near-duplicates collapsed."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qa.store import Index
from qa.store.base import Search
from qa.store.faiss import FaissSearch
from qa.store.vectors import rows


@dataclass(frozen=True)
class FusionSettings:
    """Weights of the fused score; tuned on tests/data/questions.jsonl (bench/README.md)."""

    passage: float = 0.50  # cosine of the whole passage (title + text)
    sentence: float = 0.20  # cosine of the passage's best sentence
    lexical: float = 0.30  # BM25, divided by the best BM25 score of the query
    depth: int = 50  # candidates taken from each of the three lists
    # BM25 is divided by max(the query's best score, this): a query whose best lexical match is far
    # weaker than this collection's typical one gets a proportionally weaker lexical vote (0: off).
    lexical_reference: float = 0.0
    # Query-level: the lexical vote × (1 − c + c × the IDF share of the query's terms that its best
    # BM25 passage holds); a query whose words the collection barely has gets a weaker lexical vote.
    lexical_confidence: float = 0.0
    # Query-level: the lexical vote × (1 − a + a × agreement), the share of BM25's top ten that are among the
    # dense top ten. Where the two disagree on a query, BM25 is usually matching the wrong words (an entity
    # search whose keywords are common ones), and dense retrieval, which read the whole question, is
    # trusted more. Needs no labels from the collection.
    lexical_agreement: float = 0.3
    agreement_depth: int = 10


@dataclass
class Hit:
    chunk: int
    score: float  # fused score, the ranking key
    passage: float
    sentence: float
    lexical: float
    best_sentence: int  # sentence id with the highest cosine inside the chunk
    duplicates: list[int] = field(default_factory=list)  # near-duplicate chunks of other documents, collapsed into this one


class Retriever:
    """Fuses a store's candidates into one ranking. Stateless over an Index, so one instance serves many threads."""

    def __init__(self, index: Index, fusion: FusionSettings | None = None, search: Search | None = None) -> None:
        self.index = index
        self.fusion = fusion or FusionSettings()
        self.store_search = search if search is not None else FaissSearch(index)  # the store's candidate searches
        self._list_sentences()

    def _list_sentences(self) -> None:
        """Sentence ids of each chunk, end to end, for one gather + one reduce per query."""
        self._sent_ptr, self._sent_ids = self.index.chunk_sentences.ptr, self.index.chunk_sentences.ids

    def _best_sentences(self, cand: np.ndarray, qv: np.ndarray, passage: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate chunk: the highest sentence cosine and that sentence's id (-1 if none)."""
        starts, ends = self._sent_ptr[cand], self._sent_ptr[cand + 1]
        counts = ends - starts
        sentence, best = passage.astype(np.float32).copy(), np.full(len(cand), -1, dtype=np.int64)
        has = counts > 0
        if not has.any():
            return sentence, best
        offsets = np.repeat(starts[has] - np.cumsum(counts[has]) + counts[has], counts[has]) + np.arange(counts[has].sum())
        sids = self._sent_ids[offsets]
        sims = rows(self.index.sentence_vectors, sids) @ qv
        seg = np.concatenate([[0], np.cumsum(counts[has])[:-1]])
        maxima = np.maximum.reduceat(sims, seg)
        # position of the first maximum in each segment
        is_max = sims == np.repeat(maxima, counts[has])
        first = np.minimum.reduceat(np.where(is_max, np.arange(len(sims)), len(sims)), seg)
        sentence[has], best[has] = maxima, sids[first]
        return sentence, best

    def _idf_share(self, tokens: list[str], chunk: int) -> float:
        """The share of the query's IDF mass that ``chunk`` holds."""
        idf = self.index.lexical.idf(tokens)
        have = set(self.store_search.chunk_terms(chunk))
        total = sum(idf[t] for t in tokens)
        return sum(idf[t] for t in tokens if t in have) / total if total > 0 else 0.0

    def search(self, query_vector: np.ndarray, query_tokens: list[str], k: int = 5, collapse: bool = True) -> list[Hit]:
        ix, f = self.index, self.fusion
        if not ix.chunks:
            return []
        q = query_vector.reshape(1, -1).astype(np.float32)
        depth = min(max(f.depth, k), len(ix.chunks))
        cand, bm25, best_bm25, best_chunk = self.store_search.candidates(q[0], query_tokens, depth, min(f.depth * 2, len(ix.sentences)))

        qv = q[0]
        passage = rows(ix.chunk_vectors, cand) @ qv
        sentence, best = self._best_sentences(cand, qv, passage)
        top = max(best_bm25, f.lexical_reference)
        lexical = bm25 / top if top > 0 else np.zeros(len(cand), dtype=np.float32)
        if f.lexical_confidence > 0 and top > 0:
            lexical = lexical * (1 - f.lexical_confidence + f.lexical_confidence * self._idf_share(query_tokens, best_chunk))
        if f.lexical_agreement > 0 and top > 0:
            lexical = lexical * (1 - f.lexical_agreement + f.lexical_agreement * _agreement(passage, bm25, f.agreement_depth))
        fused = f.passage * passage + f.sentence * sentence + f.lexical * lexical

        # One citation per piece of evidence: a near-duplicate passage (same group)
        # or an overlapping neighbour whose best sentence is already cited adds nothing.
        # A copy in another document is not dropped: it is listed with the passage it repeats.
        hits: list[Hit] = []
        by_group: dict[int, Hit] = {}
        seen_sentences: set[int] = set()
        for n in np.argsort(-fused, kind="stable"):
            ci = int(cand[n])
            group = int(ix.groups[ci])
            if collapse and group in by_group:
                first = by_group[group]
                if ix.chunks[first.chunk].source != ix.chunks[ci].source:
                    first.duplicates.append(ci)
                continue
            if collapse and best[n] >= 0 and int(best[n]) in seen_sentences:
                continue
            if len(hits) == k:
                break
            hit = Hit(ci, float(fused[n]), float(passage[n]), float(sentence[n]), float(lexical[n]), int(best[n]))
            by_group[group] = hit
            seen_sentences.add(int(best[n]))
            hits.append(hit)
        return hits



def _agreement(dense: np.ndarray, bm25: np.ndarray, depth: int) -> float:
    """The share of BM25's top ``depth`` candidates (with a score) that are also in the dense top ``depth``."""
    n = min(depth, len(dense))
    lexical_top = [i for i in np.argsort(-bm25, kind="stable")[:n] if bm25[i] > 0]
    if not lexical_top:
        return 0.0
    dense_top = set(np.argsort(-dense, kind="stable")[:n].tolist())
    return sum(int(i) in dense_top for i in lexical_top) / len(lexical_top)
